"""Boundary schemas: catalogs, workloads, the plan document, replica identity and observations (pydantic and plain records)."""
