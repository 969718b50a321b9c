"""Reading each official list format, and refusing malformed files whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpurent.screening import ListFormat, ListFormatError, PartyType, detect_format, read_list

FIXTURES = Path(__file__).parent / "fixtures" / "lists"


class TestFormats:
    def test_ofac_csv_joins_aliases_addresses_and_remarks(self) -> None:
        parsed = read_list(FIXTURES / "ofac_csv")
        assert (parsed.dataset, parsed.format) == ("ofac-sdn", "ofac-csv")
        by_id = {e.entry_id: e for e in parsed.entries}
        assert set(by_id) == {"101", "102", "103", "104"}
        holding = by_id["101"]
        assert holding.aliases == ("EXAMPLE HOLDING CO", "SAMPLE TRADING GROUP")
        assert holding.programs == ("SDGT", "IRGC")
        assert holding.countries == ("IR",)
        assert holding.remarks is not None
        assert "Linked To: EXAMPLE PARENT." in holding.remarks
        assert by_id["102"].party_type is PartyType.INDIVIDUAL
        assert by_id["103"].party_type is PartyType.VESSEL
        assert by_id["104"].aliases == ("华为测试技术有限公司",)

    def test_ofac_classic_xml(self) -> None:
        parsed = read_list(FIXTURES / "ofac_xml" / "sdn.xml")
        assert (parsed.format, parsed.published) == ("ofac-xml", "11/01/2026")
        bank, person = parsed.entries
        assert (bank.entry_id, bank.aliases, bank.countries) == (
            "201",
            ("BANCO NACIONAL DE EJEMPLO",),
            ("CU",),
        )
        assert person.name == "Ivan PETROV"
        assert person.aliases == ("Иван Петров",)

    def test_ofac_advanced_xml_keeps_ownership_links(self) -> None:
        parsed = read_list(FIXTURES / "ofac_advanced" / "sdn_advanced.xml")
        assert parsed.format == "ofac-advanced-xml"
        by_id = {e.entry_id: e for e in parsed.entries}
        assert by_id["301"].countries == ("CN",)
        assert by_id["301"].addresses[0].city == "Hefei"
        assert by_id["302"].aliases == ("EXSUB",)
        assert by_id["303"].name == "Wei ZHANG"
        assert by_id["301"].programs == ("CMIC-EO13959",)
        # "Owned or Controlled By" is kept; "Associate Of" is not ownership.
        assert [(link.owned_id, link.owner_id) for link in parsed.links] == [("302", "301")]

    @pytest.mark.parametrize("name", ["legacy.csv", "current.csv", "csl.json"])
    def test_csl_variants_agree(self, name: str) -> None:
        parsed = read_list(FIXTURES / "csl" / name)
        robotics, person = parsed.entries
        assert robotics.list_name == "Entity List (EL)"
        assert robotics.aliases == ("Example Robotics", "示例机器人有限公司")
        assert robotics.countries == ("CN",)
        assert robotics.citation == "89 FR 10000"
        assert robotics.license_policy == "Presumption of denial."
        assert person.list_name == "Specially Designated Nationals (SDN)"
        assert person.entry_id == "401"
        assert person.party_type is PartyType.INDIVIDUAL

    def test_csl_identifier_is_the_sources_own(self) -> None:
        current = read_list(FIXTURES / "csl" / "current.csv").entries[0]
        legacy = read_list(FIXTURES / "csl" / "legacy.csv").entries[0]
        assert current.entry_id == "id-0"
        # Rows without an identifier get a stable one derived from the row.
        assert legacy.entry_id == read_list(FIXTURES / "csl" / "legacy.csv").entries[0].entry_id

    def test_dpl_merges_one_order_listed_at_two_addresses(self) -> None:
        parsed = read_list(FIXTURES / "dpl" / "dpl.txt")
        exports, person = parsed.entries
        assert [a.city for a in exports.addresses] == ["Miami", "Doral"]
        assert exports.citation == "89 F.R. 1000 1/5/24"
        assert person.name == "JOHN EXAMPLE"

    @pytest.mark.parametrize(
        ("path", "fmt"),
        [
            ("ofac_csv", ListFormat.OFAC_CSV),
            ("ofac_csv/sdn.csv", ListFormat.OFAC_CSV),
            ("ofac_xml/sdn.xml", ListFormat.OFAC_XML),
            ("ofac_advanced", ListFormat.OFAC_ADVANCED_XML),
            ("csl/legacy.csv", ListFormat.CSL_CSV),
            ("csl/current.csv", ListFormat.CSL_CSV),
            ("csl/csl.json", ListFormat.CSL_JSON),
            ("dpl/dpl.txt", ListFormat.BIS_DPL),
        ],
    )
    def test_format_is_detected(self, path: str, fmt: ListFormat) -> None:
        assert detect_format(FIXTURES / path)[0] is fmt

    def test_a_folder_with_several_lists_asks_for_the_file(self) -> None:
        with pytest.raises(ListFormatError, match="one list's files"):
            detect_format(FIXTURES / "csl")


def broken_copy(tmp_path: Path, source: str, edit: str, data: bytes | None = None) -> Path:
    """Copy a fixture (file or folder) and damage one file of it."""
    src = FIXTURES / source
    target = tmp_path / src.name
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copy(src, target)
    victim = target / edit if src.is_dir() else target
    original = victim.read_bytes()
    victim.write_bytes(data if data is not None else original[: len(original) * 2 // 3])
    return target


class TestMalformed:
    def test_truncated_ofac_csv_names_file_and_line(self, tmp_path: Path) -> None:
        path = broken_copy(tmp_path, "ofac_csv", "sdn.csv")
        with pytest.raises(ListFormatError) as caught:
            read_list(path)
        assert caught.value.path.endswith("sdn.csv")
        assert "truncated" in caught.value.problem or caught.value.line is not None

    def test_ofac_csv_row_with_missing_fields(self, tmp_path: Path) -> None:
        bad = b'101,"EXAMPLE",-0- ,"SDGT"\r\n\x1a'
        path = broken_copy(tmp_path, "ofac_csv", "sdn.csv", bad)
        with pytest.raises(ListFormatError, match=r"sdn\.csv:1: expected 12 fields, found 4"):
            read_list(path)

    def test_bad_alias_file_rejects_the_set(self, tmp_path: Path) -> None:
        bad = b'x1,1,"aka","NAME",-0- \r\n\x1a'
        path = broken_copy(tmp_path, "ofac_csv", "alt.csv", bad)
        with pytest.raises(ListFormatError, match=r"alt\.csv:1: ent_num 'x1' is not a number"):
            read_list(path)

    @pytest.mark.parametrize("name", ["ofac_xml/sdn.xml", "ofac_advanced/sdn_advanced.xml"])
    def test_truncated_xml(self, tmp_path: Path, name: str) -> None:
        path = broken_copy(tmp_path, name, "")
        with pytest.raises(ListFormatError, match=r"\.xml:\d+: malformed XML"):
            read_list(path)

    def test_csl_row_without_name(self, tmp_path: Path) -> None:
        text = (FIXTURES / "csl" / "legacy.csv").read_text().splitlines()
        text[2] = text[2].replace("ALI, Example", "")
        path = tmp_path / "legacy.csv"
        path.write_text("\n".join(text) + "\n")
        with pytest.raises(ListFormatError, match=r"legacy\.csv:3: entry has no name"):
            read_list(path)

    def test_csl_with_unterminated_quote(self, tmp_path: Path) -> None:
        path = broken_copy(tmp_path, "csl/current.csv", "")
        with pytest.raises(ListFormatError, match=r"current\.csv:\d+"):
            read_list(path)

    def test_csl_json_errors_name_the_line_or_record(self, tmp_path: Path) -> None:
        path = broken_copy(tmp_path, "csl/csl.json", "")
        with pytest.raises(ListFormatError, match=r"csl\.json:\d+: malformed JSON"):
            read_list(path)
        path.write_text('{"results": [{"source": "Entity List (EL)"}]}')
        with pytest.raises(ListFormatError, match="result 1: entry has no name"):
            read_list(path)

    def test_dpl_with_wrong_header(self, tmp_path: Path) -> None:
        path = tmp_path / "dpl.txt"
        path.write_text('"Name"\t"Street_Address"\n"X"\t"Y"\n')
        with pytest.raises(ListFormatError, match=r"dpl\.txt:1: expected the DPL header"):
            read_list(path, ListFormat.BIS_DPL)

    def test_unknown_format(self, tmp_path: Path) -> None:
        path = tmp_path / "names.csv"
        path.write_text("a,b\n1,2\n")
        with pytest.raises(ListFormatError, match="format not recognized"):
            read_list(path)
