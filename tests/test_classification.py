"""ECCN 3A090 classification: the reference table, boundaries, and the rule as data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gpurent.catalog import service
from gpurent.catalog.classification import GpuSpecs, classify, load_rule
from gpurent.catalog.models import GpuModel

# name, TPP, class, paragraphs, Note 2: ../shared/reference/export-controls.md section 1
REFERENCE = [
    ("A100-40GB", "4992", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("A100-80GB", "4992", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("A800", "4989.6", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("H100-SXM", "15832", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("H100-PCIe", "12104", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("H800", "15832", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("H200", "15832", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("H20", "2368", "not controlled", (), False),
    ("B200", "36000", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("L40S", "5864", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("L20", "1912", "not controlled", (), False),
    ("A30", "2640", "3A090.b", ("3A090.b.1",), False),
    ("T4", "1040", "not controlled", (), False),
    ("RTX-4090", "5284.8", "3A090.a", ("3A090.a.1", "3A090.a.2"), False),
    ("RTX-4090D", "4706.8", "not controlled", (), True),
    ("MI250X", "6128", "3A090.a", ("3A090.a.1",), False),
    ("MI300X", "20919.2", "3A090.a", ("3A090.a.1",), False),
]


def _builtin(name: str) -> GpuModel:
    spec = next(s for s in service.builtin_specs() if s.name == name)
    return GpuModel(
        name=spec.name,
        vendor=spec.vendor,
        memory_gb=spec.memory_gb,
        die_area_mm2=spec.die_area_mm2,
        data_center=spec.data_center,
        dense_rates={k: str(v) for k, v in spec.dense_rates.items()},
        source="builtin",
    )


def specs(tpp_int8: str, die: str | None, data_center: bool = True) -> GpuSpecs:
    return GpuSpecs(
        name="X",
        dense_rates={"INT8": Decimal(tpp_int8) / 8},
        die_area_mm2=Decimal(die) if die else None,
        data_center=data_center,
    )


class TestReferenceTable:
    def test_catalog_holds_every_reference_model(self) -> None:
        names = {spec.name for spec in service.builtin_specs()}
        assert {row[0] for row in REFERENCE} <= names

    @pytest.mark.parametrize(("name", "tpp", "klass", "paragraphs", "note_2"), REFERENCE)
    def test_classification_matches_reference(
        self, name: str, tpp: str, klass: str, paragraphs: tuple[str, ...], note_2: bool
    ) -> None:
        result = service.classify_model(_builtin(name))
        assert result.tpp == Decimal(tpp)
        assert result.control_class == klass
        assert result.paragraphs == paragraphs
        assert result.note_2_applies is note_2

    def test_a30_density_is_not_rounded_over_the_threshold(self) -> None:
        result = service.classify_model(_builtin("A30"))
        assert result.performance_density is not None
        assert Decimal("3.19") < result.performance_density < Decimal("3.2")
        assert "3A090.b.2" not in result.paragraphs

    def test_arithmetic_shows_the_steps(self) -> None:
        lines = service.classify_model(_builtin("H100-SXM")).arithmetic
        assert "FP8: 1979 x 8 bits = 15832" in lines
        assert "TPP = 15832 (highest, from FP8)" in lines
        assert any(line.startswith("PD = TPP / die area = 15832 / 814") for line in lines)
        assert "3A090.a.1: TPP >= 4800: met" in lines
        assert lines[-1] == "Classification: 3A090.a (3A090.a.1, 3A090.a.2)"


class TestBoundaries:
    rule = service.export_rule()

    def test_tpp_at_4800_is_a1(self) -> None:
        assert classify(specs("4800", "10000"), self.rule).paragraphs == ("3A090.a.1",)

    def test_tpp_just_below_4800_with_low_density_is_b1(self) -> None:
        assert classify(specs("4799.99", "2000"), self.rule).paragraphs == ("3A090.b.1",)

    def test_density_exactly_5_92_is_a2(self) -> None:
        result = classify(specs("2960", "500"), self.rule)  # PD = 5.92
        assert result.paragraphs == ("3A090.a.2",)

    def test_low_tpp_is_never_controlled(self) -> None:
        assert classify(specs("1599", "10"), self.rule).control_class == "not controlled"

    def test_unknown_die_area_below_4800_is_undetermined(self) -> None:
        result = classify(specs("3000", None), self.rule)
        assert result.control_class == "undetermined"
        assert not result.controlled
        assert "PD unknown: no die area published" in result.arithmetic

    def test_note_2_does_not_reach_4800(self) -> None:
        result = classify(specs("4800", "609", data_center=False), self.rule)
        assert result.control_class == "3A090.a"
        assert not result.note_2_applies

    def test_no_rates_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="at least one dense rate"):
            classify(GpuSpecs("X", {}, Decimal(1), True), self.rule)


class TestRuleAsData:
    def test_thresholds_come_from_the_rule_file(self, tmp_path: Path) -> None:
        source = Path(str(service.DATA / "eccn-3a090.yaml")).read_text()
        stricter = tmp_path / "rule.yaml"
        stricter.write_text(source.replace("tpp_min: 4800", "tpp_min: 6000"))
        rule = load_rule(stricter)
        result = classify(specs("4992", "826"), rule)
        assert result.paragraphs == ("3A090.a.2",)  # a.1 no longer met, a.2 still

    def test_broken_rule_file_names_the_file(self, tmp_path: Path) -> None:
        broken = tmp_path / "rule.yaml"
        broken.write_text("rule: x\n")
        with pytest.raises(ValueError, match=r"rule\.yaml: not a valid classification rule"):
            load_rule(broken)
