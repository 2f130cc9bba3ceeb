"""Input/output at the edge: YAML with line marks, catalogs, workloads, traces, benchmark files, atomic writes."""
