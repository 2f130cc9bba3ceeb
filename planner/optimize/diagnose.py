"""Why no fleet exists: for each bucket no allowed config can serve, the SLO that fails and the best any config achieves."""
from __future__ import annotations

import numpy as np

from planner.schemas.workload import SLO
from planner.supply.table import CapacityTable


def explain_infeasible(table: CapacityTable, rates: np.ndarray, unserved: tuple[int, ...], slo: SLO) -> str:
    """One line per unserved bucket, then a hint."""
    lines = ["no fleet meets the SLOs:"]
    roles = {c.key: c.role for c in table.configs}
    for b in unserved:
        bucket = table.buckets[b]
        head = f"- bucket {bucket.label} ({bucket.share:.1%} of requests, {rates[b]:.3g} req/s): "
        cells = [(table.configs[k].key, table.cell(k, b)) for k in range(len(table.configs))]
        cells = [(key, c) for key, c in cells if c is not None]
        if not cells:
            lines.append(head + "no profiled config serves it")
            continue
        # a decode replica has no TTFT of its own (0 ms: its prompt is prefilled elsewhere), a prefill replica no
        # TPOT: each SLO's best is taken over the configs that serve that phase
        ttft_key, ttft_cell = min(((key, c) for key, c in cells if roles[key] != "decode"), key=lambda kc: kc[1].ttft0_ms,
                                  default=cells[0])
        tpot_key, tpot_cell = min(((key, c) for key, c in cells if roles[key] != "prefill"), key=lambda kc: kc[1].tpot0_ms,
                                  default=cells[0])
        pct = f"p{slo.percentile:g}"
        if ttft_cell.ttft0_ms > slo.ttft_ms:
            lines.append(head + f"{pct} TTFT {slo.ttft_ms:g} ms cannot be met; the best is {ttft_cell.ttft0_ms:.0f} ms on {ttft_key} at zero load")
        elif tpot_cell.tpot0_ms > slo.tpot_ms:
            lines.append(head + f"{pct} TPOT {slo.tpot_ms:g} ms cannot be met; the best is {tpot_cell.tpot0_ms:.1f} ms on {tpot_key} at batch 1")
        else:
            reasons = sorted({c.detail for _, c in cells})
            lines.append(head + "; ".join(reasons[:3]))
    lines.append("hint: relax the SLO, allow larger tp or more GPU types/quantizations, or check the bucket's lengths")
    return "\n".join(lines)
