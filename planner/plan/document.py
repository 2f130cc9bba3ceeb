"""A Plan to and from its JSON document: both directions go through planner.schemas.plan.PlanDoc."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from planner.errors import WorkloadError
from planner.io.files import jsonable
from planner.io.yamldoc import YamlDoc, load_yaml, validate
from planner.plan.model import Plan, Pool
from planner.schemas.plan import SCHEMA_VERSION, PlanDoc
from planner.schemas.replica import ReplicaSpec, Speculation
from planner.schemas.workload import SLO, Workload


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document of schema 2 (validated by PlanDoc, so writer and readers agree)."""
    pools = [{"gpu": p.gpu, "quant": p.quant, "tp": p.tp, "kv_dtype": p.kv_dtype, "replicas": p.replicas, "gpus": p.gpus,
              "cost_per_hour": p.cost_per_hour, "utilization": p.utilization, "ttft_ms": p.ttft_ms, "tpot_ms": p.tpot_ms,
              "bound": str(p.bound), "detail": p.detail, "config": p.key,
              "max_num_batched_tokens": p.spec.chunk, "role": p.spec.role, "error_band": p.error_band}
             | ({"model": p.spec.model} if p.spec.tag else {})
             | ({} if p.spec.speculative is None else {"speculative": asdict(p.spec.speculative)}) for p in plan.pools]
    doc = {
        "schema_version": SCHEMA_VERSION,
        "status": plan.status,
        "solver": {"name": plan.solver, "gap": plan.gap, "runtime_s": round(plan.runtime_s, 4)},
        "model": plan.model,
        "slo": plan.slo.model_dump(),
        "utilization_target": plan.utilization_target,
        "cost_per_hour": round(plan.cost_per_hour, 4),
        "cost_per_month": round(plan.cost_per_month, 2),
        "cost_per_million_output_tokens": round(plan.cost_per_million_output_tokens, 4),
        "cost_per_million_tokens": {
            at: {kind: _round(plan.cost_per_million_tokens(kind, at), 4) for kind in ("input", "output")}
            for at in ("design", "mean")
        } | {"mean_over_design": plan.mean_over_design, "basis": plan.token_cost_basis},
        "design_rps": plan.design_rps,
        "output_tokens_per_s": plan.output_tokens_per_s,
        "input_tokens_per_s": plan.input_tokens_per_s,
        "gpus_by_type": plan.gpus_by_type,
        "pools": pools,
        "routing": [r.model_dump() for r in plan.routing],
        "baselines": [b.model_dump() for b in plan.baselines],
        "saving_vs_cheapest_single_type": plan.saving_vs_cheapest_single_type,
        "demand": plan.demand.model_dump(),
        "instances": [i.model_dump() for i in plan.instances],
        "simplest": plan.simplest.model_dump() if plan.simplest else None,
        "rules": [r.model_dump() for r in plan.rules],
        "floor": None if plan.floor is None else plan.floor.model_dump(),
        "slots": [t.model_dump() for t in plan.slots],
        "tiers": plan.tiers.model_dump() if plan.tiers else None,
        "inputs": plan.inputs,
        "notes": list(plan.notes),
    }
    if plan.models:  # only a plan of several models has per-model lines (schema 1 documents stay as they were)
        doc["models"] = [m.model_dump() for m in plan.models]
    if plan.disaggregation is not None:  # only under engine.disaggregation with prefill/decode configs in the table
        doc["disaggregation"] = plan.disaggregation.model_dump()
    doc = jsonable(doc)
    PlanDoc.model_validate(doc)  # the writer obeys the schema the readers use
    return doc


def plan_from_doc(doc: PlanDoc) -> Plan:
    """The Plan a document describes (costs as rounded in the file)."""
    workload = Workload.model_validate(doc.inputs.workload)
    pools = tuple(Pool(ReplicaSpec(p.model or doc.model, p.gpu, p.quant, p.kv_dtype, p.tp, p.role,
                                   workload.engine.params(p.max_num_batched_tokens), tag=p.model or "",
                                   speculative=None if p.speculative is None else Speculation(**p.speculative)),  # type: ignore[arg-type]
                       p.replicas, p.cost_per_hour,
                       p.utilization, p.ttft_ms, p.tpot_ms, p.bound, p.detail, p.error_band) for p in doc.pools)
    routing, baselines = tuple(doc.routing), tuple(doc.baselines)
    return Plan(doc.status, doc.solver.name, doc.solver.gap, doc.solver.runtime_s, doc.cost_per_hour, pools, routing, baselines,
                doc.design_rps, doc.output_tokens_per_s, doc.input_tokens_per_s, doc.model, SLO(**doc.slo),
                doc.utilization_target, doc.demand, instances=tuple(doc.instances), simplest=doc.simplest, rules=tuple(doc.rules), slots=tuple(doc.slots), tiers=doc.tiers,
                models=tuple(doc.models),
                mean_over_design=doc.cost_per_million_tokens.mean_over_design, inputs=doc.inputs.model_dump(), notes=tuple(doc.notes),
                floor=doc.floor, disaggregation=doc.disaggregation)


def _check_json(path: Path) -> None:
    """A plan file must be JSON (as `solve --format json` writes it): say where it is not."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"{path}: cannot read plan: {exc}") from None
    except json.JSONDecodeError as exc:
        raise WorkloadError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def read_plan(source: str | Path | dict[str, Any] | Plan) -> Plan:
    """A plan from a JSON file, a dict or a Plan; problems point at file:line."""
    if isinstance(source, Plan):
        return source
    if not isinstance(source, dict):
        _check_json(Path(source))
    doc = YamlDoc(source, {}, Path("<plan>")) if isinstance(source, dict) else load_yaml(source, WorkloadError)
    plan = validate(PlanDoc, doc, WorkloadError)
    keys = {p.config for p in plan.pools}
    for i, route in enumerate(plan.routing):
        for key in route.shares:
            if key not in keys:
                raise WorkloadError(f"{doc.where(('routing', i, 'shares'))}: routing[{i}].shares: pool {key!r} is not in pools ({', '.join(sorted(keys))})")
    try:
        return plan_from_doc(plan)
    except ValueError as exc:
        raise WorkloadError(f"{doc.path}: inputs.workload: not a valid workload: {str(exc).splitlines()[0]}") from None
