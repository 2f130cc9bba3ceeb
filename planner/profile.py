"""Measured capacity profiles (docs/profiles.md): max req/s per (replica config, request-size bucket) from a CSV.

A profile replaces the performance model as the source of the capacity table; the optimizer cannot tell
which one it got. Reading checks every row and reports all problems at once as `file:line: ...`. The
profile's buckets become the workload's buckets: a trace is bucketed on them request by request, and a
histogram entry that straddles profile buckets is split by overlap, taking lengths as uniform within
the entry's ranges (the same assumption `planner.demand` makes for histograms).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from planner.capacity_table import CapacityTable, ConfigSpec
from planner.catalog import LLM, Catalog
from planner.demand import OPEN, Bucket, Demand, Rect, bucket_label, build_demand, demand_on_rectangles
from planner.errors import WorkloadError
from planner.traces import read_trace
from planner.workload import LoadedWorkload, input_error
from planner.yamlio import suggest

REQUIRED = ("gpu", "input_lo", "input_hi", "output_lo", "output_hi", "max_rps")
OPTIONAL = ("cost_per_hour", "quant", "tp", "kv_dtype", "source")
COLUMNS = REQUIRED + OPTIONAL
DEFAULTS = {"quant": "bf16", "tp": "1", "kv_dtype": "fp16", "cost_per_hour": "", "source": ""}
Config = tuple[str, str, int, str]  # gpu, quant, tp, kv_dtype


@dataclass(frozen=True)
class ProfileRow:
    """One CSV row: one replica of `config` sustains `max_rps` for requests in `bucket` within the SLOs."""

    line: int
    config: Config
    bucket: Rect
    max_rps: float
    cost_per_hour: float | None
    """USD per hour for the whole replica (tp GPUs); None = the catalog price."""


@dataclass(frozen=True)
class Profile:
    path: Path
    rows: tuple[ProfileRow, ...]
    sha256: str

    @property
    def buckets(self) -> tuple[Rect, ...]:
        """Distinct buckets in ascending (input, output) order."""
        return tuple(sorted({r.bucket for r in self.rows}))


def config_key(config: Config) -> str:
    return ConfigSpec(*config, cost_per_hour=0.0).key


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
    columns = _check_header(path, header_line, [h.strip() for h in header])
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
    for column in ("gpu", "quant", "kv_dtype"):
        if not v[column]:
            errors.append(f"{column}: expected a non-empty id")
    if errors or max_rps is None or tp is None:
        return None, errors
    config = (v["gpu"], v["quant"], int(tp), v["kv_dtype"])
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
            problems.append((r.line, f"duplicate row for {config_key(r.config)} in bucket {bucket_label(r.bucket)} (first at line {seen[r.config, r.bucket]})"))
        seen.setdefault((r.config, r.bucket), r.line)
        first_of_bucket.setdefault(r.bucket, r.line)
        if r.cost_per_hour is not None:
            known = price.setdefault(r.config, (r.cost_per_hour, r.line))
            if known[0] != r.cost_per_hour:
                problems.append((r.line, f"cost_per_hour: {config_key(r.config)} costs {known[0]:g} at line {known[1]}, "
                                         f"got {r.cost_per_hour:g}; a config has one price"))
    buckets = sorted(first_of_bucket, key=first_of_bucket.__getitem__)
    for i, a in enumerate(buckets):
        for b in buckets[:i]:
            if _overlap(a, b) > 0:
                problems.append((first_of_bucket[a], f"bucket {bucket_label(a)} overlaps bucket {bucket_label(b)} (line {first_of_bucket[b]}); "
                                                     "buckets must be disjoint (rows for the same bucket repeat its exact ranges)"))
    return problems


def _overlap(a: Rect, b: Rect) -> float:
    """Number of (input, output) length pairs two buckets share."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[2], b[2]))


# ---- writing -------------------------------------------------------------------------------------

def profile_csv(table: CapacityTable, comments: Sequence[str] = ()) -> str:
    """A capacity table in the profile format: one row per (config, bucket) it can serve (max_rps > 0).

    Numbers are written in full (`repr`), so reading the file back gives the same table bit for bit.
    """
    buf = io.StringIO()
    buf.writelines(f"# {c}\n" for c in comments)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for k, cfg in enumerate(table.configs):
        for b, bucket in enumerate(table.buckets):
            rps = float(table.max_rps[k, b])
            if rps <= 0:
                continue
            cell = table.cell(k, b)
            source = f"planner model: {cell.bound}: {cell.detail}" if cell else table.source
            writer.writerow([cfg.gpu, bucket.input_lo, "" if bucket.input_hi >= OPEN else bucket.input_hi,
                             bucket.output_lo, "" if bucket.output_hi >= OPEN else bucket.output_hi,
                             repr(rps), repr(float(cfg.cost_per_hour)), cfg.quant, cfg.tp, cfg.kv_dtype, source])
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


def without_profile(loaded: LoadedWorkload) -> LoadedWorkload:
    """The same workload with its capacity_profile removed, so the performance model fills the table."""
    return LoadedWorkload(loaded.workload.model_copy(update={"capacity_profile": None}), loaded.doc, loaded.sha256)


# ---- the profile as demand + capacity table -------------------------------------------------------

def profile_problem(loaded: LoadedWorkload, catalog: Catalog, model: LLM) -> tuple[Demand, CapacityTable]:
    """The workload's demand on the profile's buckets, and the profile as a capacity table."""
    path = loaded.profile_path()
    assert path is not None
    if not path.is_file():
        raise input_error(loaded, ("capacity_profile",), f"file not found: {path}")
    profile = read_profile(path)
    rows = _in_scope(profile, loaded, catalog)
    costs = _config_costs(profile, rows, loaded, catalog)
    demand = profile_demand(loaded, model, profile)
    served = {r.bucket for r in rows}
    unserved = [b for b in demand.buckets if b.rect not in served]
    if unserved:
        listed = "; ".join(f"{b.label} ({b.share:.1%} of the traffic, {b.rate_rps:.3g} req/s)" for b in unserved)
        raise WorkloadError(f"{path}: no GPU config in scope can serve {listed}; add profile rows for these buckets "
                            "or widen the workload's gpus/quantization/tp/kv_dtype")
    configs = list(dict.fromkeys(r.config for r in rows))
    index = {b.rect: j for j, b in enumerate(demand.buckets)}
    max_rps = np.zeros((len(configs), len(demand.buckets)))
    for r in rows:
        if r.bucket in index:
            max_rps[configs.index(r.config), index[r.bucket]] = r.max_rps
    specs = tuple(ConfigSpec(*c, cost_per_hour=costs[c]) for c in configs)
    note = (f"capacities from the capacity profile {path} (sha256 {profile.sha256[:12]}); "
            "the planner takes them as meeting the SLOs and does not check them")
    return demand, CapacityTable(specs, demand.buckets, max_rps, None, f"profile:{path}", (note,))


def _in_scope(profile: Profile, loaded: LoadedWorkload, catalog: Catalog) -> list[ProfileRow]:
    """Rows allowed by the workload's gpus/quantization/tp/kv_dtype lists, where the workload sets them explicitly."""
    w = loaded.workload

    def canonical(quant: str) -> str:
        return next((q.id for q in catalog.quantization.values() if quant == q.id or quant in q.aliases), quant)

    allowed = {
        0: set(w.gpus) if "gpus" in w.model_fields_set and w.gpus else None,
        1: {canonical(q) for q in w.quantization} if "quantization" in w.model_fields_set else None,
        2: set(w.tp) if "tp" in w.model_fields_set else None,
        3: set(w.kv_dtype) if "kv_dtype" in w.model_fields_set else None,
    }
    rows = [r for r in profile.rows
            if all(keep is None or (canonical(r.config[1]) if i == 1 else r.config[i]) in keep for i, keep in allowed.items())]
    if not rows:
        raise input_error(loaded, ("capacity_profile",), f"no row of {profile.path} is for a config the workload allows "
                          "(its gpus/quantization/tp/kv_dtype lists exclude them all)")
    return rows


def _config_costs(profile: Profile, rows: list[ProfileRow], loaded: LoadedWorkload, catalog: Catalog) -> dict[Config, float]:
    """USD/hour per replica: the profile's cost_per_hour, else pricing.overrides or the catalog price x tp."""
    pricing = loaded.workload.pricing
    given = {r.config: r.cost_per_hour for r in rows if r.cost_per_hour is not None}
    costs, problems = {}, []
    for r in rows:
        if r.config in costs:
            continue
        gpu, _, tp, _ = r.config
        if r.config in given:
            costs[r.config] = given[r.config]
        elif gpu in pricing.overrides:
            costs[r.config] = pricing.overrides[gpu] * tp
        elif gpu not in catalog.gpus:
            problems.append((r.line, f"gpu: {gpu!r} is not in the catalog{suggest(gpu, catalog.gpus)} and the row has no cost_per_hour; "
                                     "give cost_per_hour (USD per replica-hour) or add the GPU with --catalog"))
        elif (price := catalog.price(gpu, pricing.provider, pricing.tier)) is not None:
            costs[r.config] = price.usd_per_gpu_hour * tp
        else:
            problems.append((r.line, f"cost_per_hour: no {pricing.provider} {pricing.tier} price for GPU {gpu!r}; "
                                     f"give cost_per_hour or set pricing.overrides.{gpu}"))
    if problems:
        raise WorkloadError("\n".join(f"{profile.path}:{line}: {msg}" for line, msg in sorted(problems)))
    return costs


def profile_demand(loaded: LoadedWorkload, model: LLM, profile: Profile) -> Demand:
    """The workload's traffic on the profile's buckets; traffic outside every bucket is an error naming it."""
    buckets = profile.buckets
    tiles = list(buckets) + _gaps(buckets)
    traffic = loaded.workload.traffic
    trace_path = loaded.trace_path()
    if trace_path is None:
        demand = split_demand(build_demand(loaded, model), tiles)
    else:
        demand = demand_on_rectangles(read_trace(trace_path, traffic.format), traffic, model, str(trace_path), tiles)
    inside = set(buckets)
    outside = sorted((b for b in demand.buckets if b.rect not in inside), key=lambda b: -b.share)
    if outside:
        total = sum(b.share for b in outside)
        listed = ", ".join(f"{b.label} ({b.share:.1%})" for b in outside[:5]) + (", ..." if len(outside) > 5 else "")
        message = (f"{total:.1%} of the traffic falls in no bucket of the profile {profile.path}: {listed}; "
                   "add profile rows covering these lengths")
        raise WorkloadError(f"{trace_path}: {message}") if trace_path else input_error(loaded, ("traffic", "histogram"), message)
    return replace(demand, buckets=tuple(b for b in demand.buckets if b.rect in inside))


def _gaps(buckets: Sequence[Rect]) -> list[Rect]:
    """Cells of the grid spanned by the buckets' edges that no bucket covers (together they tile every length)."""
    def edges(lo: int, hi: int) -> list[int]:
        return sorted({1} | {b[lo] for b in buckets} | {b[hi] for b in buckets if b[hi] < OPEN})

    ins, outs = edges(0, 1), edges(2, 3)
    gaps = []
    for i, ilo in enumerate(ins):
        ihi = ins[i + 1] if i + 1 < len(ins) else OPEN
        for o, olo in enumerate(outs):
            cell = (ilo, ihi, olo, outs[o + 1] if o + 1 < len(outs) else OPEN)
            if not any(_overlap(cell, b) for b in buckets):
                gaps.append(cell)
    return gaps


def split_demand(demand: Demand, rects: Sequence[Rect]) -> Demand:
    """Move each bucket's traffic onto `rects` in proportion to overlap, lengths uniform within each bucket.

    Traffic outside every rect is lost (callers pass rects that tile all lengths to account for it).
    """
    parts: dict[int, list[tuple[Bucket, float, Rect]]] = {}
    for bucket in demand.buckets:
        size = (bucket.input_hi - bucket.input_lo) * (bucket.output_hi - bucket.output_lo)
        for t, rect in enumerate(rects):
            common = (max(bucket.input_lo, rect[0]), min(bucket.input_hi, rect[1]), max(bucket.output_lo, rect[2]), min(bucket.output_hi, rect[3]))
            frac = _overlap(bucket.rect, rect) / size
            if frac > 0:
                parts.setdefault(t, []).append((bucket, frac, common))
    return replace(demand, buckets=tuple(_merge(rects[t], parts[t]) for t in sorted(parts)))


def _merge(rect: Rect, parts: list[tuple[Bucket, float, Rect]]) -> Bucket:
    """One bucket from uniform pieces: shares add, means weight by share, the p99 is the mixture's."""
    weights = np.array([b.share * f for b, f, _ in parts])
    ins = [(c[0], c[1] - 1) for _, _, c in parts]
    outs = [(c[2], c[3] - 1) for _, _, c in parts]
    return Bucket(
        input_lo=rect[0], input_hi=rect[1], output_lo=rect[2], output_hi=rect[3],
        rate_rps=float(sum(b.rate_rps * f for b, f, _ in parts)), share=float(weights.sum()),
        input_mean=float(np.average([(a + z) / 2 for a, z in ins], weights=weights)),
        output_mean=float(np.average([(a + z) / 2 for a, z in outs], weights=weights)),
        input_p99=_uniform_mixture_quantile(ins, weights, 0.99),
        input_max=max(z for _, z in ins), output_max=max(z for _, z in outs),
    )


def _uniform_mixture_quantile(ranges: list[tuple[int, int]], weights: np.ndarray, q: float) -> float:
    """q-quantile of a mixture of continuous uniforms on [a, z] (a point mass where a == z), by bisection."""
    lo_s = np.array([a for a, _ in ranges], dtype=float)
    hi_s = np.array([z for _, z in ranges], dtype=float)
    w = weights / weights.sum()

    def cdf(x: float) -> float:
        width = np.maximum(hi_s - lo_s, 1e-300)
        frac = np.where(hi_s > lo_s, np.clip((x - lo_s) / width, 0.0, 1.0), (x >= lo_s).astype(float))
        return float(w @ frac)

    lo, hi = float(lo_s.min()), float(hi_s.max())
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
    return hi

