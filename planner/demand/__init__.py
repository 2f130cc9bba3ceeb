"""Demand: the workload's traffic as buckets and design rates per model, period and bucket."""
