"""Azure LLM inference trace 2023 (AzurePublicDataset): `TIMESTAMP, ContextTokens, GeneratedTokens`."""
from __future__ import annotations

from planner.io.traces.layout import TraceLayout, register

AZURE_2023 = register(TraceLayout("azure2023", "TIMESTAMP", "datetime", "ContextTokens", "GeneratedTokens"))
