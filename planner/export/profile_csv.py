"""Export a capacity table as a capacity-profile CSV (docs/profiles.md): to check measurements against,
or as a template to fill. Reading it back (planner.io.readers.profile_csv) gives the same table bit for bit."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from planner.schemas.ranges import OPEN
from planner.export import Exporter, register
from planner.io.readers.profile_csv import COLUMNS
from planner.io.workload import LoadedWorkload
from planner.supply.table import CapacityTable


def profile_csv(table: CapacityTable, comments: Sequence[str] = ()) -> str:
    """A capacity table in the profile format: one row per (config, bucket) it can serve (max_rps > 0).

    Numbers are written in full (`repr`), so reading the file back gives the same table bit for bit. Prefill and
    decode rows (disaggregation) are left out: a profile describes co-located replicas, whose row needs no partner.
    """
    buf = io.StringIO()
    buf.writelines(f"# {c}\n" for c in comments)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for k, cfg in enumerate(table.configs):
        if cfg.role != "unified":
            continue
        for b, bucket in enumerate(table.buckets):
            rps = float(table.max_rps[k, b])
            if rps <= 0:
                continue
            cell = table.cell(k, b)
            source = f"planner model: {cell.bound}: {cell.detail}" if cell else table.source
            writer.writerow([cfg.gpu, bucket.input_lo, "" if bucket.input_hi >= OPEN else bucket.input_hi,
                             bucket.output_lo, "" if bucket.output_hi >= OPEN else bucket.output_hi,
                             repr(rps), repr(float(table.costs[k])), cfg.quant, cfg.tp, cfg.kv_dtype, source,
                             cfg.engine.max_num_batched_tokens])
    return buf.getvalue()


def export_comments(loaded: LoadedWorkload, table: CapacityTable) -> list[str]:
    """Header comments of an exported profile: what it was computed for (it only holds for these SLOs)."""
    w = loaded.workload
    origin = str(loaded.doc.path) if loaded.doc else "a workload"
    return [
        f"capacity profile exported by `planner profile export` from {origin} ({table.source} capacities)",
        f"model {w.model}; each max_rps meets p{w.slo.percentile:g} TTFT <= {w.slo.ttft_ms:g} ms and TPOT <= {w.slo.tpot_ms:g} ms",
        "cost_per_hour is per replica (tp GPUs); edit rows or replace max_rps with measurements (docs/profiles.md)",
    ]


register(Exporter("profile-csv", "capacity-table", profile_csv, "capacity-profile CSV (docs/profiles.md)"))
