"""Candidate configs: the chunk-budget search multiplies them, and each budget names its pool."""
from __future__ import annotations

import pytest

from planner.io.catalog import load_catalog
from planner.io.workload import workload_from_dict
from planner.schemas.replica import ReplicaSpec
from planner.schemas.workload import CHUNK_BUDGETS, Engine
from planner.supply.candidates import enumerate_candidates

BASE = {"model": "llama-3.1-8b", "slo": {"ttft_ms": 1000, "tpot_ms": 50}, "gpus": ["h100"], "tp": [1, 2],
        "traffic": {"rate_rps": 1, "histogram": [{"input": [1, 100], "output": [1, 100], "share": 1.0}]}}


@pytest.mark.parametrize(("engine", "budgets"), [
    ({}, list(CHUNK_BUDGETS)),                                      # chunked prefill by default, budgets searched
    ({"max_num_batched_tokens": [1024, 4096]}, [1024, 4096]),
    ({"max_num_batched_tokens": 4096}, [4096]),
    ({"chunked_prefill": False}, [8192]),                           # serial prefill: one budget (vLLM's default)
])
def test_budgets_are_a_candidate_dimension(tmp_path, engine: dict, budgets: list[int]) -> None:
    cands, _ = enumerate_candidates(workload_from_dict(BASE | {"engine": engine}, tmp_path), load_catalog())
    assert [c.config.engine.max_num_batched_tokens for c in cands] == budgets * 2  # tp 1 then tp 2
    assert len({c.config.replica.key for c in cands}) == len(cands)


def test_keys_name_budgets_other_than_the_engine_default() -> None:
    spec = ReplicaSpec("m", "h100", "fp8", "fp8", 2)
    assert spec.key == "h100/fp8/tp2/kv-fp8"  # chunked at vLLM's 8192
    assert ReplicaSpec("m", "h100", "bf16", "fp16", 4, engine=Engine(max_num_batched_tokens=512).params()).key == "h100/bf16/tp4/chunk512"
    assert ReplicaSpec("m", "h100", "bf16", "fp16", 4, engine=Engine(chunked_prefill=False, max_num_batched_tokens=512).params()).key == "h100/bf16/tp4"


def test_a_budget_list_under_serial_prefill_is_refused() -> None:
    with pytest.raises(ValueError, match="searched under chunked prefill only"):
        Engine(chunked_prefill=False, max_num_batched_tokens=[512, 1024])
