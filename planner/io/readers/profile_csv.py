"""Reading a measured capacity profile (docs/profiles.md): max req/s per (replica config, request-size bucket), CSV.

Reading checks every row and reports all problems at once as `file:line: ...`; planner.supply.profile turns
a Profile into a capacity table, planner.export.profile_csv writes one.
"""
from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from planner.schemas.ranges import OPEN, Rect, bucket_label, overlap
from planner.errors import WorkloadError, suggest
from planner.io.readers import ReadContext, ReadResult, read_head, register
from planner.schemas.replica import EngineParams, ReplicaSpec, config_key

REQUIRED = ("gpu", "input_lo", "input_hi", "output_lo", "output_hi", "max_rps")
OPTIONAL = ("cost_per_hour", "quant", "tp", "kv_dtype", "source", "max_num_batched_tokens")
COLUMNS = REQUIRED + OPTIONAL
DEFAULTS = {"quant": "bf16", "tp": "1", "kv_dtype": "fp16", "cost_per_hour": "", "source": "", "max_num_batched_tokens": ""}
Config = tuple[str, str, int, str, int]  # gpu, quant, tp, kv_dtype, max_num_batched_tokens (the engine's)


@dataclass(frozen=True)
class ProfileRow:
    """One CSV row: one replica of `config` sustains `max_rps` for requests in `bucket` within the SLOs."""

    line: int
    config: Config
    bucket: Rect
    max_rps: float
    cost_per_hour: float | None
    """USD per hour for the whole replica (tp GPUs); None = the catalog price."""

    @staticmethod
    def spec_of(config: Config, model: str) -> ReplicaSpec:
        """A row's config as a ReplicaSpec of `model` (a profile is for one model)."""
        gpu, quant, tp, kv_dtype, budget = config
        return ReplicaSpec(model, gpu, quant, kv_dtype, tp, engine=EngineParams(max_num_batched_tokens=budget))


@dataclass(frozen=True)
class Profile:
    path: Path
    rows: tuple[ProfileRow, ...]
    sha256: str

    @property
    def buckets(self) -> tuple[Rect, ...]:
        """Distinct buckets in ascending (input, output) order."""
        return tuple(sorted({r.bucket for r in self.rows}))


def _key(config: Config) -> str:
    gpu, quant, tp, kv_dtype, budget = config
    return config_key(gpu, quant, tp, kv_dtype, chunk=budget)


# ---- reading -------------------------------------------------------------------------------------

def read_profile(path: str | Path) -> Profile:
    """Parse and check a profile CSV; every problem becomes one `file:line: ...` line of a WorkloadError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read the capacity profile: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise WorkloadError(f"{path}: not a UTF-8 text file; expected a CSV with columns {', '.join(REQUIRED)}") from None
    records = _records(path, text)
    if not records:
        raise WorkloadError(f"{path}: the profile is empty; expected a header line ({','.join(REQUIRED)}) and one row per config and bucket")
    header_line, header = records[0]
    try:
        columns = _check_header(path, header_line, [h.strip() for h in header])
    except WorkloadError as exc:
        raise WorkloadError(_bench_hint(path) or str(exc)) from None
    problems: list[tuple[int, str]] = []
    rows = []
    for line, fields in records[1:]:
        if len(fields) != len(columns):
            problems.append((line, f"expected {len(columns)} comma-separated fields as in the header (line {header_line}), got {len(fields)}"))
            continue
        values = DEFAULTS | {c: v.strip() for c, v in zip(columns, fields)}
        row, errors = _parse_row(line, values)
        problems += [(line, e) for e in errors]
        if row is not None:
            rows.append(row)
    if not rows and not problems:
        problems.append((header_line + 1, "expected at least one row after the header"))
    problems += _check_rows(rows)
    if problems:
        raise WorkloadError("\n".join(f"{path}:{line}: {msg}" for line, msg in sorted(problems)))
    return Profile(path, tuple(rows), hashlib.sha256(raw).hexdigest())


def _bench_hint(path: Path) -> str:
    """A hint when `path` is a benchmark result rather than a profile: how to turn it into one."""
    from planner.io.readers import READERS, _load_all

    _load_all()
    layout = next((r.name for r in READERS.values() if hasattr(r, "read_runs") and r.sniff(path)), None)
    return "" if layout is None else (f"{path}: this is a {layout} benchmark result, not a capacity profile; turn its runs into one "
                                      f"with `planner profile from-runs {path.name}@GPU/QUANT/tpN --workload W.yaml -o profile.csv`")


def _records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """CSV records with their line numbers; blank lines and lines starting with '#' are comments."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.reader((line for _, line in numbered), strict=True)
    out = []
    try:
        for fields in reader:
            out.append((numbered[reader.line_num - 1][0], fields))
    except csv.Error as exc:
        line = numbered[min(reader.line_num, len(numbered)) - 1][0]
        raise WorkloadError(f"{path}:{line}: malformed CSV: {exc}; expected comma-separated fields, one row per line") from None
    return out


def _check_header(path: Path, line: int, header: list[str]) -> list[str]:
    problems = []
    for name in sorted({h for h in header if header.count(h) > 1}):
        problems.append(f"{path}:{line}: column {name!r} appears more than once")
    for name in header:
        if name not in COLUMNS:
            problems.append(f"{path}:{line}: unknown column {name!r}{suggest(name, COLUMNS)}")
    for name in REQUIRED:
        if name not in header:
            problems.append(f"{path}:{line}: missing column {name!r}; expected a header with {','.join(REQUIRED)} "
                            f"(optional: {','.join(OPTIONAL)})")
    if problems:
        raise WorkloadError("\n".join(problems))
    return header


def _parse_row(line: int, v: dict[str, str]) -> tuple[ProfileRow | None, list[str]]:
    errors: list[str] = []

    def tokens(column: str, open_ok: bool = False) -> int:
        text = v[column]
        if open_ok and text == "":
            return OPEN
        number = _number(text)
        if number is None or number != int(number) or number < 1:
            blank = " (or empty for no upper limit)" if open_ok else ""
            errors.append(f"{column}: expected a whole number of tokens >= 1{blank}, got {text!r}")
            return 1
        return int(number)

    def positive(column: str, what: str, hint: str = "") -> float | None:
        number = _number(v[column])
        if number is None or not math.isfinite(number) or number <= 0:
            errors.append(f"{column}: expected a positive, finite {what}, got {v[column]!r}{hint}")
            return None
        return number

    bucket = []
    for side in ("input", "output"):
        before = len(errors)
        lo, hi = tokens(f"{side}_lo"), tokens(f"{side}_hi", open_ok=True)
        if hi <= lo and len(errors) == before:
            errors.append(f"{side}_hi: expected more than {side}_lo ({lo}), got {hi}: a bucket is [lo, hi)")
        bucket += [lo, hi]
    max_rps = positive("max_rps", "number of requests/s", "; leave the row out when the config cannot serve the bucket")
    cost = positive("cost_per_hour", "USD per replica-hour", " (or empty for the catalog price)") if v["cost_per_hour"] else None
    tp = _number(v["tp"])
    if tp is None or tp != int(tp) or not 1 <= tp <= 64:
        errors.append(f"tp: expected a whole number of GPUs per replica from 1 to 64, got {v['tp']!r}")
    budget = _number(v["max_num_batched_tokens"]) if v["max_num_batched_tokens"] else EngineParams.max_num_batched_tokens
    if budget is None or budget != int(budget) or budget < 1:
        errors.append(f"max_num_batched_tokens: expected a whole number of tokens >= 1 (or empty for vLLM's default "
                      f"{EngineParams.max_num_batched_tokens}), got {v['max_num_batched_tokens']!r}")
    for column in ("gpu", "quant", "kv_dtype"):
        if not v[column]:
            errors.append(f"{column}: expected a non-empty id")
    if errors or max_rps is None or tp is None or budget is None:
        return None, errors
    config = (v["gpu"], v["quant"], int(tp), v["kv_dtype"], int(budget))
    return ProfileRow(line, config, (bucket[0], bucket[1], bucket[2], bucket[3]), max_rps, cost), []


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _check_rows(rows: list[ProfileRow]) -> list[tuple[int, str]]:
    """Cross-row rules: one row per (config, bucket), disjoint buckets, one price per config."""
    problems = []
    seen: dict[tuple[Config, Rect], int] = {}
    first_of_bucket: dict[Rect, int] = {}
    price: dict[Config, tuple[float, int]] = {}
    for r in rows:
        if (r.config, r.bucket) in seen:
            problems.append((r.line, f"duplicate row for {_key(r.config)} in bucket {bucket_label(r.bucket)} (first at line {seen[r.config, r.bucket]})"))
        seen.setdefault((r.config, r.bucket), r.line)
        first_of_bucket.setdefault(r.bucket, r.line)
        if r.cost_per_hour is not None:
            known = price.setdefault(r.config, (r.cost_per_hour, r.line))
            if known[0] != r.cost_per_hour:
                problems.append((r.line, f"cost_per_hour: {_key(r.config)} costs {known[0]:g} at line {known[1]}, "
                                         f"got {r.cost_per_hour:g}; a config has one price"))
    buckets = sorted(first_of_bucket, key=first_of_bucket.__getitem__)
    for i, a in enumerate(buckets):
        for b in buckets[:i]:
            if overlap(a, b) > 0:
                problems.append((first_of_bucket[a], f"bucket {bucket_label(a)} overlaps bucket {bucket_label(b)} (line {first_of_bucket[b]}); "
                                                     "buckets must be disjoint (rows for the same bucket repeat its exact ranges)"))
    return problems


@dataclass(frozen=True)
class CapacityProfileCsv:
    name: str = "capacity-profile-csv"
    produces: str = "profile"
    description: str = "capacity profile CSV with " + ",".join(REQUIRED)

    def sniff(self, path: Path) -> bool:
        lines = [ln for ln in read_head(path).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        return bool(lines) and set(REQUIRED) <= {c.strip() for c in lines[0].split(",")}

    def read(self, path: Path, context: ReadContext) -> ReadResult:
        return ReadResult(read_profile(path))


register(CapacityProfileCsv())
