"""Benchmark files are read through one Reader contract: the layout is detected from content, and a file of
no known layout gets an error listing every layout tried."""
from __future__ import annotations

import json

import pytest

from planner.errors import PlannerError, WorkloadError
from planner.io.readers import READERS, ReadContext, detect
from planner.io.readers.calibration_csv import CSV_COLUMNS

VLLM = {"completed": 100, "total_input_tokens": 51200, "total_output_tokens": 12800, "mean_ttft_ms": 30.0,
        "mean_tpot_ms": 9.0, "output_throughput": 1200.0, "request_rate": 4.0}
CALIBRATION = ",".join(CSV_COLUMNS) + "\nllama-3.1-8b,h100,1,bf16,fp16,batch,512,128,8,tpot_ms,9.1\n"
PROFILE = "gpu,input_lo,input_hi,output_lo,output_hi,max_rps\nh100,1,512,1,256,8\n"


def test_layouts_are_detected_from_content_not_names(write) -> None:  # noqa: ANN001
    json_file = write("results.txt", json.dumps(VLLM))  # a misleading suffix: content decides
    assert detect(json_file, "observations").name == "vllm-bench-json"
    assert detect(write("a.csv", CALIBRATION), "observations").name == "calibration-csv"
    assert detect(write("p.csv", "# exported\n" + PROFILE), "profile").name == "capacity-profile-csv"


def test_each_reader_reads_what_it_detects(write) -> None:  # noqa: ANN001
    context = ReadContext(model="llama-3.1-8b", gpu="h100")
    obs = detect(write("r.json", json.dumps(VLLM)), "observations").read(write("r.json", json.dumps(VLLM)), context).items
    assert {o.metric for o in obs} == {"ttft_ms", "tpot_ms", "output_tok_s"} and obs[0].mode == "rate" and obs[0].load == 4.0
    assert obs[0].input_tokens == 512 and obs[0].output_tokens == 128  # 51200 / 100, 12800 / 100
    rows = detect(write("p.csv", PROFILE), "profile").read(write("p.csv", PROFILE), context).items.rows
    assert rows[0].config == ("h100", "bf16", 1, "fp16", 8192) and rows[0].max_rps == 8.0


def test_vllm_json_needs_the_hardware(write) -> None:  # noqa: ANN001
    path = write("r.json", json.dumps(VLLM))
    with pytest.raises(PlannerError, match="does not record the hardware: give the model and GPU it ran on"):
        detect(path, "observations").read(path, ReadContext())


def test_unknown_layout_lists_every_layout_tried(write) -> None:  # noqa: ANN001
    path = write("mystery.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(WorkloadError) as err:
        detect(path, "observations")
    message = str(err.value)
    assert str(path) in message and "not a layout planner reads" in message
    for name, reader in READERS.items():
        if reader.produces == "observations":
            assert name in message
