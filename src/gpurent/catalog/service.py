"""Catalog use cases: the built-in models, operator models, and their classification."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.catalog.classification import Classification, GpuSpecs, Rule, classify, load_rule
from gpurent.catalog.models import SOURCE_BUILTIN, GpuModel
from gpurent.catalog.schemas import GpuModelOut, GpuModelSpec
from gpurent.errors import NotFoundError

DATA = resources.files("gpurent.catalog") / "data"


@cache
def export_rule() -> Rule:
    return load_rule(Path(str(DATA / "eccn-3a090.yaml")))


@cache
def builtin_specs() -> tuple[GpuModelSpec, ...]:
    path = DATA / "gpu-models.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return tuple(GpuModelSpec.model_validate(item) for item in raw["models"])
    except ValidationError as exc:  # a broken package, not a user mistake
        raise RuntimeError(f"built-in catalog {path} is invalid: {exc}") from exc


def spec_problems(spec: GpuModelSpec) -> list[str]:
    """What is wrong with a model spec beyond its shape (unknown precisions)."""
    known = export_rule().bit_lengths
    return [
        f"unknown precision {precision!r} (known: {', '.join(known)})"
        for precision in spec.dense_rates
        if precision not in known
    ]


def _columns(spec: GpuModelSpec) -> dict[str, object]:
    return {
        "vendor": spec.vendor,
        "memory_gb": spec.memory_gb,
        "die_area_mm2": spec.die_area_mm2,
        "die_area_estimated": spec.die_area_estimated,
        "data_center": spec.data_center,
        "dense_rates": {k: format(v.normalize(), "f") for k, v in spec.dense_rates.items()},
    }


def _differs(model: GpuModel, columns: dict[str, object]) -> bool:
    def comparable(key: str, value: object) -> object:
        if key == "die_area_mm2" and value is not None:
            return Decimal(str(value)).normalize()
        return value

    return any(
        comparable(key, getattr(model, key)) != comparable(key, value)
        for key, value in columns.items()
    )


def put_model(session: Session, spec: GpuModelSpec, *, source: str) -> bool:
    """Create or update one model row; flushes, does not commit. True if anything changed."""
    columns = _columns(spec)
    model = find_model(session, spec.name)
    if model is None:
        session.add(GpuModel(name=spec.name, source=source, **columns))
        session.flush()
        return True
    if not _differs(model, columns):
        return False
    for key, value in columns.items():
        setattr(model, key, value)
    session.flush()
    return True


def sync_builtin_models(session: Session) -> int:
    """Bring the built-in models in the database up to the shipped catalog; commits."""
    changed = sum(put_model(session, spec, source=SOURCE_BUILTIN) for spec in builtin_specs())
    session.commit()
    return changed


def is_builtin_name(name: str) -> bool:
    return any(spec.name.lower() == name.lower() for spec in builtin_specs())


def find_model(session: Session, name: str) -> GpuModel | None:
    statement = select(GpuModel).where(func.lower(GpuModel.name) == name.lower())
    return session.scalars(statement).one_or_none()


def get_model(session: Session, name: str) -> GpuModel:
    model = find_model(session, name)
    if model is None:
        raise NotFoundError(f"unknown GPU model {name!r}", fields=["name"])
    return model


def list_models(session: Session) -> list[GpuModel]:
    return list(session.scalars(select(GpuModel).order_by(GpuModel.name)))


def classify_model(model: GpuModel) -> Classification:
    specs = GpuSpecs(
        name=model.name,
        dense_rates={k: Decimal(v) for k, v in model.dense_rates.items()},
        die_area_mm2=model.die_area_mm2,
        data_center=model.data_center,
    )
    return classify(specs, export_rule())


def describe(model: GpuModel) -> GpuModelOut:
    result = classify_model(model)
    density = result.performance_density
    return GpuModelOut(
        name=model.name,
        vendor=model.vendor,
        memory_gb=model.memory_gb,
        die_area_mm2=float(model.die_area_mm2) if model.die_area_mm2 is not None else None,
        die_area_estimated=model.die_area_estimated,
        data_center=model.data_center,
        dense_rates={k: float(v) for k, v in model.dense_rates.items()},
        source=model.source,
        tpp=float(round(result.tpp, 2)),
        tpp_precision=result.tpp_precision,
        performance_density=float(round(density, 3)) if density is not None else None,
        classification=result.control_class,
        classification_paragraphs=list(result.paragraphs),
        controlled=result.controlled,
        note_2_applies=result.note_2_applies,
        rule=f"{export_rule().name} ({export_rule().source})",
        arithmetic=list(result.arithmetic),
    )
