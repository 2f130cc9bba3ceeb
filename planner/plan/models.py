"""Several models on one fleet (docs/fleet.md, "Several models"): the models' capacity tables joined into one whose
buckets are side by side (a config of one model serves none of another's buckets), so the slotted MILP shares
GPU types, caps, budget and reserved GPUs between them; and the plan's lines per model."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.demand.series import DemandSeries
from planner.optimize.slots import SlottedProblem, SlotSolution
from planner.schemas.plan import ModelDoc
from planner.schemas.workload import ModelEntry
from planner.supply.table import CapacityTable


def joined_table(tables: list[CapacityTable]) -> CapacityTable:
    """One table for all models: configs tagged with their model (distinct keys), block-diagonal capacities."""
    configs = tuple(replace(c, tag=c.model) for t in tables for c in t.configs)
    n_buckets = sum(len(t.buckets) for t in tables)
    max_rps = np.zeros((len(configs), n_buckets))
    cells: list[tuple] | None = [] if all(t.cells is not None for t in tables) else None
    row = col = 0
    for t in tables:
        k, b = t.max_rps.shape
        max_rps[row:row + k, col:col + b] = t.max_rps
        if cells is not None and t.cells is not None:  # a config has no cell in another model's buckets
            cells += [(None,) * col + tuple(r) + (None,) * (n_buckets - col - b) for r in t.cells]
        row, col = row + k, col + b
    sources = sorted({t.source for t in tables})
    return CapacityTable(configs, np.concatenate([t.costs for t in tables]), tuple(b for t in tables for b in t.buckets), max_rps,
                         tuple(cells) if cells is not None else None, "+".join(sources), tuple(n for t in tables for n in t.notes))


def model_docs(entries: list[ModelEntry], problem: SlottedProblem, sol: SlotSolution, demand: DemandSeries,
               slot_costs: list[dict], peak: int) -> tuple[ModelDoc, ...]:
    """Per model: SLO, rate and replicas in the busiest slot, and its replicas' cost over the month (`slot_costs`:
    USD/hour per config in each slot, at that slot's tier prices)."""
    out = []
    for m, entry in enumerate(entries):
        mine = {spec: n for spec, n in sol.replicas(peak).items() if spec.model == entry.model}
        gpus: dict[str, int] = {}
        for spec, n in mine.items():
            gpus[spec.gpu] = gpus.get(spec.gpu, 0) + spec.tp * n
        month = sum(hours * sum(c for spec, c in costs.items() if spec.model == entry.model)
                    for hours, costs in zip(problem.hours, slot_costs))
        assert entry.slo is not None
        out.append(ModelDoc(model=entry.model, ttft_ms=entry.slo.ttft_ms, tpot_ms=entry.slo.tpot_ms,
                            peak_rps=float(demand.rates[m, peak].sum()),
                            replicas={s.key: n for s, n in sorted(mine.items(), key=lambda kv: kv[0].key)},
                            gpus_by_type=dict(sorted(gpus.items())), cost_per_month=float(month)))
    return tuple(out)
