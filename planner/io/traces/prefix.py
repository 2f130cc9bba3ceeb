"""Prefix-cache hits of a trace: per request, the prompt tokens an unbounded prefix cache already holds.

Two sources (docs/traces.md, "Prefix caching"): a `hash_ids` list column (Mooncake: one id per 512-token
block of the prompt, equal ids for equal prefixes) or a `cached_tokens` column (any layout: what the serving
engine reported, e.g. vLLM's prefix-cache hit tokens). A request hits on the leading blocks that some earlier
request already had (vLLM and SGLang match prefixes block by block, from the start); it always recomputes at
least its last prompt token, as vLLM does for a full hit. The file is read again for these columns only when
it has one (the planning scan keeps three columns, planner.io.traces.scan).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.errors import WorkloadError
from planner.io.traces.layout import TraceLayout
from planner.io.traces.scan import connect, raw_source, typed_columns

HASH_BLOCK_TOKENS = 512
"""Tokens per `hash_ids` entry in Mooncake's traces (FAST25-release/README.md: "each hash id is a block of
512 tokens")."""


@dataclass(frozen=True)
class PrefixHits:
    """The valid requests of a trace in the reader's order (arrival, then file order) with their cached tokens."""

    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cached: np.ndarray


def cached_prefix_tokens(files: list[Path], fmt: str, layout: TraceLayout,
                         columns: dict[str, str] | None = None) -> PrefixHits | None:
    """Cached prompt tokens per valid request, or None when the trace has neither column. `columns` (the first
    file's columns and types, TraceScan.columns) spares reading its header again: without either column the file
    is not opened at all."""
    import duckdb

    if columns is not None and _hit_column(columns) is None:
        return None
    con = connect()
    try:
        dtypes = columns or {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {raw_source(files[0], fmt)}").fetchall()}
        found = _hit_column(dtypes)
        if found is None:
            return None
        column, kind = found
        a_sql, i_sql, o_sql, code = typed_columns(layout, dtypes)
        union = " UNION ALL ".join(f"SELECT * FROM {raw_source(f, fmt)}" for f in files)
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"CREATE TEMP TABLE r AS SELECT row_number() OVER (ORDER BY a, rn) AS k, i, o, x FROM ("
                    f"SELECT row_number() OVER () AS rn, {a_sql} AS a, {i_sql} AS i, {o_sql} AS o, ({code}) AS bad, "
                    f'"{column}" AS x FROM ({union})) WHERE bad = 0')
        if kind == "tokens":
            query = ("SELECT i, o, least(greatest(coalesce(TRY_CAST(x AS DOUBLE), 0), 0), i - 1)::BIGINT AS c "
                     "FROM r ORDER BY k")
        else:
            query = f"""
                WITH u AS (SELECT k, unnest(x) AS h, generate_subscripts(x, 1) AS pos FROM r),
                     f AS (SELECT h, min(k) AS first FROM u GROUP BY h),
                     m AS (SELECT u.k, min(CASE WHEN f.first < u.k THEN NULL ELSE u.pos END) AS miss, count(*) AS n
                           FROM u JOIN f USING (h) GROUP BY u.k)
                SELECT r.i, r.o, least(coalesce(m.miss - 1, m.n, 0) * {HASH_BLOCK_TOKENS}, r.i - 1)::BIGINT AS c
                FROM r LEFT JOIN m USING (k) ORDER BY r.k"""
        result = con.execute(query).fetchnumpy()
    except duckdb.Error as exc:
        raise WorkloadError(f"{files[0]}: cannot read the prefix-cache column: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return PrefixHits(*(np.asarray(result[n], dtype=np.int64) for n in ("i", "o", "c")))


def _hit_column(dtypes: dict[str, str]) -> tuple[str, str] | None:
    """The prefix-cache column a trace has, with its kind (`tokens` or `hashes`), or None."""
    if "cached_tokens" in dtypes:
        return "cached_tokens", "tokens"
    if "hash_ids" in dtypes and dtypes["hash_ids"].endswith("[]"):
        return "hash_ids", "hashes"
    return None
