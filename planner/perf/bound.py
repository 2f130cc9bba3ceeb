"""The resource that limits a configuration: one name per resource, used by estimates, capacity cells and plans."""
from __future__ import annotations

import enum


class Bound(enum.StrEnum):
    """What stops more load (a str, so it prints and serialises as its value)."""

    COMPUTE = "compute"
    """Tensor-core throughput (prefill, or large decode batches)."""
    BANDWIDTH = "bandwidth"
    """HBM bandwidth (streaming weights and KV cache in decode)."""
    KV_MEMORY = "kv_memory"
    """KV-cache capacity: no room for more live sequences."""
    SLO = "slo"
    """A latency SLO is reached before any resource saturates."""
    MEASURED = "measured"
    """The capacity comes from a measured profile, which does not say what binds."""
