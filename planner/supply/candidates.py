"""Candidate replica configs: every allowed GPU x quantization x KV dtype x TP (x chunk budget under chunked
prefill) that can hold the model, priced."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from planner.errors import suggest
from planner.io.catalog import Catalog
from planner.io.workload import LoadedWorkload, input_error
from planner.perf.memory import ServingConfig, kv_budget_bytes_per_gpu, tp_problem, weight_bytes_per_gpu
from planner.perf.speculative import SpecDecode
from planner.supply.prices import Offer, PriceBook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A config the optimizer may buy, with the offer it is bought at (one replica = tp GPUs)."""

    config: ServingConfig
    offer: Offer

    @property
    def cost_per_hour(self) -> float:
        return self.offer.usd_per_gpu_hour * self.config.tp


@dataclass(frozen=True)
class Rejection:
    """A config (or GPU) left out of the search, and why."""

    key: str
    reason: str


def _offers(loaded: LoadedWorkload, book: PriceBook, gpus: list[str]) -> tuple[dict[str, Offer], list[Rejection]]:
    """The offer for every GPU in scope; an explicitly listed GPU without one is an error naming who sells it."""
    w = loaded.workload
    pricing = w.pricing
    offers, rejected = {}, []
    for i, gpu_id in enumerate(gpus):
        found = book.offers(gpu_id)
        if found:
            offers[gpu_id] = found[0]
            continue
        if w.gpus is not None:
            sellers = book.providers_selling(gpu_id)
            hint = f"providers with a {pricing.tier} price for it: {', '.join(sellers)}" if sellers else "no provider lists it"
            raise input_error(loaded, ("gpus", i), f"no {pricing.provider} {pricing.tier} price for GPU {gpu_id!r} ({hint}); set pricing.overrides.{gpu_id}")
        rejected.append(Rejection(gpu_id, f"no {pricing.provider} {pricing.tier} price"))
        log.info("skipping %s: no %s %s price", gpu_id, pricing.provider, pricing.tier)
    return offers, rejected


def _speculation(loaded: LoadedWorkload, catalog: Catalog) -> list[SpecDecode | None]:
    """No speculation, then every draft x k of the workload's `speculative:` section; a draft must be a catalog
    model with the target's vocabulary (the target verifies the draft's token ids)."""
    section = loaded.workload.speculative
    if section is None:
        return [None]
    target = catalog.model(loaded.workload.model)
    out: list[SpecDecode | None] = [None]
    for i, draft_id in enumerate(section.drafts):
        if draft_id not in catalog.models:
            raise input_error(loaded, ("speculative", "drafts", i), f"unknown draft model {draft_id!r}{suggest(draft_id, catalog.models)}")
        draft = catalog.model(draft_id)
        if draft.vocab_size != target.vocab_size or draft.params_b >= target.params_b:
            raise input_error(loaded, ("speculative", "drafts", i),
                              f"draft {draft_id!r} ({draft.params_b:g}B, vocabulary {draft.vocab_size}) must be smaller than "
                              f"{target.id} ({target.params_b:g}B) and share its vocabulary ({target.vocab_size})")
        out.extend(SpecDecode(draft, k, section.acceptance) for k in section.k)
    return out


def enumerate_candidates(loaded: LoadedWorkload, catalog: Catalog) -> tuple[list[Candidate], list[Rejection]]:
    """All configs worth a capacity estimate, in a deterministic order, plus why the others were left out."""
    w = loaded.workload
    model = catalog.model(w.model)
    engines = [w.engine.params(budget) for budget in w.engine.budgets()]
    drafts = _speculation(loaded, catalog)
    offers, rejected = _offers(loaded, PriceBook(catalog, w.pricing), w.gpus or sorted(catalog.gpus))
    out: list[Candidate] = []
    for gpu_id in sorted(offers):
        gpu = catalog.gpu(gpu_id)
        eff = catalog.efficiency_for(gpu_id)
        for quant_id in w.quantization:
            quant = catalog.quant(quant_id)
            if quant.compute_dtype not in gpu.tflops:
                rejected.append(Rejection(f"{gpu_id}/{quant.id}", f"{gpu.name} has no {quant.compute_dtype} tensor cores"))
                continue
            for kv_id in w.kv_dtype:
                for tp in sorted(w.tp):
                    for engine, spec in ((e, d) for e in engines for d in drafts):
                        cfg = ServingConfig(model, gpu, quant, catalog.kv_dtype(kv_id), tp, eff, engine, spec)
                        reason = tp_problem(cfg)
                        if reason is None and kv_budget_bytes_per_gpu(cfg) <= 0:
                            reason = (f"weights need {weight_bytes_per_gpu(cfg) / 1e9:.1f} GB per GPU; "
                                      f"no room for KV cache in {gpu.memory_gb:g} GB")
                        if reason:
                            rejected.append(Rejection(cfg.key, reason))
                            continue
                        out.append(Candidate(cfg, offers[gpu_id]))
    return out, rejected
