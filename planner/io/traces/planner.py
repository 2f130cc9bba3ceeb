"""planner's own trace layout, `arrival_s, input_tokens, output_tokens`, and its writers (CSV, JSONL, Parquet)."""
from __future__ import annotations

import io
import json
from pathlib import Path

from planner.io.traces.layout import TraceLayout, register
from planner.io.traces.trace import Trace

PLANNER = register(TraceLayout("planner", "arrival_s", "s", "input_tokens", "output_tokens"))


def trace_csv(trace: Trace) -> str:
    """The planner's own CSV layout (arrival_s with millisecond precision)."""
    lines = ["arrival_s,input_tokens,output_tokens"]
    lines += [f"{a:.3f},{i},{o}" for a, i, o in zip(trace.arrival_s, trace.input_tokens, trace.output_tokens)]
    return "\n".join(lines) + "\n"


def serialise_trace(trace: Trace, path: Path) -> bytes | str:
    """The trace in the planner layout, in the format `path`'s suffix names (.jsonl/.ndjson, .parquet/.pq, else CSV)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "".join(json.dumps({"arrival_s": float(a), "input_tokens": int(i), "output_tokens": int(o)}) + "\n"
                       for a, i, o in zip(trace.arrival_s, trace.input_tokens, trace.output_tokens))
    if suffix in (".parquet", ".pq"):
        import pandas as pd  # only this writer needs pandas/pyarrow

        buf = io.BytesIO()
        frame = pd.DataFrame({"arrival_s": trace.arrival_s, "input_tokens": trace.input_tokens, "output_tokens": trace.output_tokens})
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    return trace_csv(trace)
