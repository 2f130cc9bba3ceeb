"""The calibration CSV of docs/calibration.md: one measured metric a row, with its config and load."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError
from planner.io.readers import ReadContext, ReadResult, read_head, register
from planner.schemas.observation import METRICS, MODES, Observation

CSV_COLUMNS = ("model", "gpu", "tp", "quant", "kv_dtype", "mode", "input_tokens", "output_tokens", "load", "metric", "value")
"""The documented CSV (docs/calibration.md): one measured metric a row."""


def read_user_csv(path: str | Path) -> list[Observation]:
    """Rows of the documented CSV; every problem is reported as `file:line: column: message`."""
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise PlannerError(f"{path}:1: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
    obs, problems = [], []
    for i, row in enumerate(df.to_dict("records"), start=2):
        try:
            obs.append(_csv_observation(row, str(path), i))
        except ValueError as exc:
            problems.append(f"{path}:{i}: {exc}")
    if problems:
        raise PlannerError("\n".join(problems))
    return obs


def _number(row: dict, key: str, kind: type = float) -> float:
    try:
        value = kind(row[key])
    except ValueError:
        raise ValueError(f"{key}: expected a number, got {row[key]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key}: expected a finite non-negative number, got {row[key]!r}")
    return value


def _csv_observation(row: dict, path: str, line: int) -> Observation:
    if row["mode"] not in MODES[:4]:
        raise ValueError(f"mode: expected one of {', '.join(MODES[:4])}, got {row['mode']!r}")
    if row["metric"] not in METRICS[:6]:
        raise ValueError(f"metric: expected one of {', '.join(METRICS[:6])}, got {row['metric']!r}")
    value = _number(row, "value")
    if value <= 0:
        raise ValueError("value: must be > 0")
    return Observation(source=row.get("source") or Path(path).name, ref=f"{Path(path).name}:{line}", model=row["model"],
                       gpu=row["gpu"], tp=int(_number(row, "tp", int)), quant=row["quant"], kv_dtype=row["kv_dtype"] or "fp16",
                       mode=row["mode"], input_tokens=int(_number(row, "input_tokens", int)),
                       output_tokens=int(_number(row, "output_tokens", int)), load=_number(row, "load"),
                       metric=row["metric"], measured=value)




@dataclass(frozen=True)
class CalibrationCsv:
    name: str = "calibration-csv"
    produces: str = "observations"
    description: str = "CSV with " + ",".join(CSV_COLUMNS)

    def sniff(self, path: Path) -> bool:
        header = read_head(path).splitlines()[:1]
        return bool(header) and set(CSV_COLUMNS) <= {c.strip() for c in header[0].split(",")}

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        return ReadResult(read_user_csv(path))


register(CalibrationCsv())
