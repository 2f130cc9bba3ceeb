"""Catalog loading, sources, user overlays and error messages."""
from __future__ import annotations

import pytest

from planner.io.catalog import load_catalog
from planner.errors import CatalogError

REQUIRED_GPUS = {"h100", "h200", "a100-80gb", "a100-40gb", "l4", "l40s", "a10g"}
REQUIRED_MODELS = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b",
                   "llama-3.1-70b", "mistral-7b", "mixtral-8x7b", "qwen2.5-72b"}


def test_shipped_catalog_has_required_entries_with_sources():
    cat = load_catalog()
    assert REQUIRED_GPUS <= set(cat.gpus)
    assert REQUIRED_MODELS <= set(cat.models)
    assert {"bf16", "fp8", "int8", "int8-wo", "int4"} <= set(cat.quantization)
    assert set(cat.kv_dtypes) == {"fp16", "fp8"}
    entries = [*cat.gpus.values(), *cat.models.values(), *cat.quantization.values(), *cat.prices.values(), *cat.efficiency.values()]
    for entry in entries:
        assert len(entry.source) > 10 and entry.date[:2] in ("19", "20")


def test_catalog_figures_respect_known_pitfalls():
    cat = load_catalog()
    # dense, not 2:4-sparse, H100 SXM bf16
    assert cat.gpu("h100").tflops["bf16"] == pytest.approx(989.4, rel=0.01)
    # A100 and A10G have no FP8 tensor cores; L4/L40S/H100/H200 do
    assert "fp8" not in cat.gpu("a100-80gb").tflops and "fp8" not in cat.gpu("a10g").tflops
    assert all("fp8" in cat.gpu(g).tflops for g in ("l4", "l40s", "h100", "h200"))
    # variants differ: A100 40 GB vs 80 GB bandwidth; H200 HBM3e beats H100
    assert cat.gpu("a100-40gb").memory_bandwidth_gbs < cat.gpu("a100-80gb").memory_bandwidth_gbs
    assert cat.gpu("h200").memory_bandwidth_gbs > cat.gpu("h100").memory_bandwidth_gbs
    # GQA: Llama-2-70B has 8 KV heads of 64; Llama 3.1 has a 128k context
    assert (cat.model("llama-2-70b").n_kv_heads, cat.model("llama-2-70b").n_heads) == (8, 64)
    assert cat.model("llama-3.1-70b").max_context == 131072
    assert cat.model("mixtral-8x7b").active_b < cat.model("mixtral-8x7b").params_b


def test_every_gpu_has_an_aws_price_and_most_a_second_provider():
    cat = load_catalog()
    for gpu in REQUIRED_GPUS:
        assert cat.price(gpu, "aws") is not None, gpu
    # A10G is an AWS-only part; every other GPU is priced by a second provider too
    for gpu in REQUIRED_GPUS - {"a10g"}:
        assert len({p.provider for p in cat.prices.values() if p.gpu == gpu}) >= 2, gpu
    for price in cat.prices.values():
        if price.usd_per_instance_hour:
            assert price.usd_per_gpu_hour == pytest.approx(price.usd_per_instance_hour / price.gpus_per_instance, rel=1e-3)


def test_user_overlay_adds_gpu_and_replaces_price(write):
    overlay = write("mine.yaml", """
gpus:
  - id: b200
    name: NVIDIA B200
    memory_gb: 180
    memory_bandwidth_gbs: 8000
    tflops: {bf16: 2250, fp8: 4500}
    interconnect: {kind: nvlink, unidirectional_gbs: 900}
    max_tp: 8
    tdp_w: 1000
    source: "vendor datasheet"
    date: "2025-03"
prices:
  - {gpu: b200, provider: aws, usd_per_gpu_hour: 9.5, source: "negotiated quote", date: "2026-11"}
  - {gpu: h100, provider: aws, usd_per_gpu_hour: 2.0, source: "negotiated quote", date: "2026-11"}
""")
    cat = load_catalog([overlay])
    assert cat.gpu("b200").memory_gb == 180
    assert cat.price("b200", "aws").usd_per_gpu_hour == 9.5
    assert cat.price("h100", "aws").usd_per_gpu_hour == 2.0  # replaced, not duplicated


def test_overlay_errors_point_at_line_and_suggest(write):
    bad = write("bad.yaml", "gpus:\n  - id: x\n    name: X\n    memory_gbb: 80\n")
    with pytest.raises(CatalogError) as err:
        load_catalog([bad])
    text = str(err.value)
    assert f"{bad}:4: gpus[0].memory_gbb: unknown key (did you mean 'memory_gb'" in text
    assert f"{bad}:2: gpus[0].memory_bandwidth_gbs: Field required" in text


def test_overlay_refuses_nan_and_unknown_gpu_price(write):
    nan = write("nan.yaml", "prices:\n  - {gpu: h100, provider: x, usd_per_gpu_hour: .nan, source: abcd, date: '2026'}\n")
    with pytest.raises(CatalogError, match=r"nan.yaml:2: prices\[0\].usd_per_gpu_hour: .*finite"):
        load_catalog([nan])
    unknown = write("unk.yaml", "prices:\n  - {gpu: h10, provider: x, usd_per_gpu_hour: 1, source: abcd, date: '2026'}\n")
    with pytest.raises(CatalogError, match=r"unknown GPU 'h10' \(did you mean 'h100'"):
        load_catalog([unknown])


def test_lookup_suggests_close_ids():
    cat = load_catalog()
    with pytest.raises(CatalogError, match=r"unknown model 'llama3-8b' \(did you mean 'llama-3-8b'"):
        cat.model("llama3-8b")
    assert cat.quant("fp16").id == "bf16"  # alias
