"""Shapes of GPU models going in (catalog and fleet files) and out (API, CLI)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class GpuModelSpec(BaseModel):
    """A GPU model's specs, as written in the built-in catalog or a fleet file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=MODEL_NAME_PATTERN)
    vendor: str = Field(min_length=1, max_length=64)
    memory_gb: int = Field(gt=0)
    die_area_mm2: Decimal | None = Field(default=None, gt=0)
    die_area_estimated: bool = False
    data_center: bool
    dense_rates: dict[str, Decimal] = Field(
        min_length=1, description="precision (FP8, INT8, FP16...) -> dense TFLOPS or TOPS"
    )

    @field_validator("dense_rates")
    @classmethod
    def _positive_upper(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for precision, rate in rates.items():
            if rate <= 0:
                raise ValueError(f"rate for {precision} must be positive")
        return {precision.upper(): rate for precision, rate in rates.items()}


class GpuModelOut(BaseModel):
    """A GPU model with its computed export-control figures."""

    name: str
    vendor: str
    memory_gb: int
    die_area_mm2: float | None
    die_area_estimated: bool
    data_center: bool
    dense_rates: dict[str, float]
    source: str
    tpp: float = Field(description="Total processing performance")
    tpp_precision: str
    performance_density: float | None = Field(description="TPP per mm^2 of die, 3 places")
    classification: str = Field(description="3A090.a, 3A090.b, not controlled or undetermined")
    classification_paragraphs: list[str]
    controlled: bool
    note_2_applies: bool
    rule: str
    arithmetic: list[str]
