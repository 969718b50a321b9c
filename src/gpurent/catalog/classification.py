"""ECCN 3A090 classification of a GPU from its specs, with the arithmetic shown.

Pure functions over plain values: the thresholds come from a data file
(``data/eccn-3a090.yaml``), never from constants here. Arithmetic is exact (Decimal), so a
chip just under a threshold (the A30's density is 3.196, under 3.2) is never rounded over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

NOT_CONTROLLED = "not controlled"
UNDETERMINED = "undetermined"


def fmt(value: Decimal, places: int | None = None) -> str:
    """A Decimal for people: no exponent, no trailing zeros, optionally rounded."""
    if places is not None:
        value = round(value, places)
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the rule: a conjunction of bounds on TPP and density."""

    id: str
    tpp_min: Decimal | None = None
    tpp_below: Decimal | None = None
    pd_min: Decimal | None = None
    pd_below: Decimal | None = None

    @property
    def control_class(self) -> str:
        return self.id.rsplit(".", 1)[0]

    @property
    def needs_density(self) -> bool:
        return self.pd_min is not None or self.pd_below is not None

    def bounds_text(self) -> str:
        parts = []
        for label, low, high in (
            ("TPP", self.tpp_min, self.tpp_below),
            ("PD", self.pd_min, self.pd_below),
        ):
            if low is not None and high is not None:
                parts.append(f"{fmt(low)} <= {label} < {fmt(high)}")
            elif low is not None:
                parts.append(f"{label} >= {fmt(low)}")
            elif high is not None:
                parts.append(f"{label} < {fmt(high)}")
        return " and ".join(parts)

    def is_met(self, tpp: Decimal, density: Decimal | None) -> bool | None:
        """True or False; None when the density it needs is unknown."""
        if not _within(tpp, self.tpp_min, self.tpp_below):
            return False
        if not self.needs_density:
            return True
        if density is None:
            return None
        return _within(density, self.pd_min, self.pd_below)


def _within(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


@dataclass(frozen=True)
class Rule:
    """ECCN 3A090 as data: bit lengths per precision, paragraphs, Note 2."""

    name: str
    source: str
    effective: date
    bit_lengths: Mapping[str, int]
    paragraphs: tuple[Paragraph, ...]
    note_2_tpp_below: Decimal


@dataclass(frozen=True)
class GpuSpecs:
    name: str
    dense_rates: Mapping[str, Decimal]
    die_area_mm2: Decimal | None
    data_center: bool


@dataclass(frozen=True)
class Classification:
    tpp: Decimal
    tpp_precision: str
    performance_density: Decimal | None
    control_class: str
    paragraphs: tuple[str, ...]
    note_2_applies: bool
    arithmetic: tuple[str, ...]

    @property
    def controlled(self) -> bool:
        return self.control_class not in (NOT_CONTROLLED, UNDETERMINED)


def total_processing_performance(
    rates: Mapping[str, Decimal], bit_lengths: Mapping[str, int]
) -> tuple[Decimal, str, list[str]]:
    """The highest rate x bit length over the precisions, and the lines that show it."""
    if not rates:
        raise ValueError("a GPU model needs at least one dense rate to compute its TPP")
    products = {precision: rate * bit_lengths[precision] for precision, rate in rates.items()}
    # On a tie, name the narrowest precision: the figure chips are usually rated by.
    best = max(products, key=lambda precision: (products[precision], -bit_lengths[precision]))
    lines = [
        f"{precision}: {fmt(rates[precision])} x {bit_lengths[precision]} bits = {fmt(product)}"
        for precision, product in products.items()
    ]
    lines.append(f"TPP = {fmt(products[best])} (highest, from {best})")
    return products[best], best, lines


def classify(specs: GpuSpecs, rule: Rule) -> Classification:
    tpp, precision, lines = total_processing_performance(specs.dense_rates, rule.bit_lengths)
    density: Decimal | None = None
    if specs.die_area_mm2:
        density = tpp / specs.die_area_mm2
        lines.append(
            f"PD = TPP / die area = {fmt(tpp)} / {fmt(specs.die_area_mm2)} mm^2 = {fmt(density, 3)}"
        )
    else:
        lines.append("PD unknown: no die area published")

    met: list[Paragraph] = []
    unknown = False
    for paragraph in rule.paragraphs:
        outcome = paragraph.is_met(tpp, density)
        verdict = {True: "met", False: "not met", None: "unknown (needs PD)"}[outcome]
        lines.append(f"{paragraph.id}: {paragraph.bounds_text()}: {verdict}")
        if outcome is None:
            unknown = True
        elif outcome:
            met.append(paragraph)

    if met:
        control_class = met[0].control_class
        paragraphs = tuple(p.id for p in met if p.control_class == control_class)
    else:
        control_class = UNDETERMINED if unknown else NOT_CONTROLLED
        paragraphs = ()

    note_2 = not specs.data_center and tpp < rule.note_2_tpp_below
    if note_2:
        lines.append(
            f"Note 2: not designed or marketed for data centres and TPP "
            f"{fmt(tpp)} < {fmt(rule.note_2_tpp_below)}: 3A090 does not apply"
        )
        control_class, paragraphs = NOT_CONTROLLED, ()
    lines.append(
        f"Classification: {control_class}" + (f" ({', '.join(paragraphs)})" if paragraphs else "")
    )
    return Classification(
        tpp=tpp,
        tpp_precision=precision,
        performance_density=density,
        control_class=control_class,
        paragraphs=paragraphs,
        note_2_applies=note_2,
        arithmetic=tuple(lines),
    )


def _decimal(raw: Any) -> Decimal | None:
    return None if raw is None else Decimal(str(raw))


def load_rule(path: Path) -> Rule:
    """Read a rule file; a malformed one raises ValueError naming the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        paragraphs = tuple(
            Paragraph(
                id=str(item["id"]),
                tpp_min=_decimal(item.get("tpp_min")),
                tpp_below=_decimal(item.get("tpp_below")),
                pd_min=_decimal(item.get("pd_min")),
                pd_below=_decimal(item.get("pd_below")),
            )
            for item in raw["paragraphs"]
        )
        return Rule(
            name=str(raw["rule"]),
            source=str(raw["source"]),
            effective=raw["effective"],
            bit_lengths={str(k): int(v) for k, v in raw["bit_lengths"].items()},
            paragraphs=paragraphs,
            note_2_tpp_below=Decimal(str(raw["note_2"]["tpp_below"])),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a valid classification rule file: {exc}") from exc
