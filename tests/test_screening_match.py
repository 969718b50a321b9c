"""The pure screening library: normalization, comparison and the screener's index."""

from __future__ import annotations

import pytest

from gpurent.screening import ListEntry, PartyType, Screener, analyze, compare
from gpurent.screening.compare import token_similarity
from gpurent.screening.normalize import TokenKind


def score(a: str, b: str) -> float:
    return compare(analyze(a), analyze(b)).score


class TestNormalize:
    def test_legal_forms_are_canonical_and_kept_apart(self) -> None:
        for name in ("IFLYTEK CO., LTD.", "iFlytek Company Limited", "iflytek co ltd"):
            assert analyze(name).tokens == ("iflytek",), name
        assert analyze("OOO Romashka").legal_forms == analyze("Romashka LLC").legal_forms

    def test_chinese_script_becomes_pinyin_with_company_words_translated(self) -> None:
        form = analyze("华为技术有限公司")
        assert form.tokens == ("hua", "wei", "technology")
        assert "llc" in form.legal_forms

    def test_cyrillic_uses_the_romanization_english_lists_use(self) -> None:
        assert analyze("Щукин Дмитрий").tokens == ("shchukin", "dmitriy")

    def test_dotted_abbreviations_close_up_and_numbers_become_digits(self) -> None:
        assert analyze("A.B.C. Company").tokens == ("abc",)
        assert analyze("Brigade Forty-Four").tokens == ("brigade", "44")
        assert analyze("1st International Bank").tokens[0] == "1"

    def test_generic_words_and_places_are_marked(self) -> None:
        form = analyze("Beijing Example Technology Group")
        kinds = dict(zip(form.tokens, form.kinds, strict=True))
        assert kinds["beijing"] is TokenKind.PLACE
        assert kinds["technology"] is TokenKind.GENERIC
        assert kinds["example"] is TokenKind.NAME


class TestCompare:
    @pytest.mark.parametrize(
        ("query", "listed"),
        [
            ("iFlytek Company Limited", "IFLYTEK CO., LTD."),
            ("Huawei Technologies", "hua wei technologies co ltd"),
            ("SiemensAG", "Siemens AG"),
            ("Olaf Schloz", "Olaf Scholz"),
            ("Saddam Husayn", "Saddam Hussein"),
            ("Владимир Путин", "Vladimir Putin"),
            ("PUTIN, Vladimir", "Vladimir Putin"),
        ],
    )
    def test_variants_match(self, query: str, listed: str) -> None:
        assert score(query, listed) >= 0.75

    @pytest.mark.parametrize(
        ("query", "listed"),
        [
            ("Technology Trading Group Company Limited", "Beijing Technology Trading Group Co"),
            ("Octavian Scholz", "Olaf Scholz"),
            ("Sergey Ivanevich Lavrov", "Sergey Viktorovich Lavrov"),
            ("Omar bin Abdullah al-Rawi", "Abdullah bin Omar al-Rawi"),
        ],
    )
    def test_different_parties_do_not(self, query: str, listed: str) -> None:
        assert score(query, listed) < 0.75

    def test_different_legal_forms_weigh_against(self) -> None:
        result = compare(analyze("Example Bank AG"), analyze("Example Bank GmbH"))
        assert result.score < score("Example Bank AG", "Example Bank Aktiengesellschaft")
        assert any("different legal forms" in a for a in result.adjustments)

    def test_generic_words_alone_are_capped_and_the_cap_is_explained(self) -> None:
        result = compare(analyze("Global Trading Group"), analyze("Global Trading Group Ltd"))
        assert result.score == 0.5
        assert any("no distinctive word" in a for a in result.adjustments)

    def test_explanation_names_the_paired_tokens(self) -> None:
        result = compare(analyze("Hua Wei Technologies"), analyze("Huawei Technologies"))
        pairs = {(p.query, p.candidate) for p in result.pairs}
        assert ("hua wei", "huawei") in pairs
        assert result.unpaired_query == ()

    def test_scores_lie_in_the_unit_interval(self) -> None:
        romashka = "\u041e\u041e\u041e \u0420\u043e\u043c\u0430\u0448\u043a\u0430"
        names = ["", "a", "Ivan Petrov", "IVAN", romashka, "科大讯飞", "Example 44"]
        for a in names:
            for b in names:
                assert 0.0 <= score(a, b) <= 1.0

    def test_token_similarity(self) -> None:
        assert token_similarity("huawei", "huawei") == 1.0
        assert token_similarity("2004", "2005") == 0.0
        assert token_similarity("j", "john") == 0.75
        assert token_similarity("faberlick", "faberlic") >= 0.85


def entity(entry_id: str, name: str, *aliases: str, country: str = "CN") -> ListEntry:
    return ListEntry(
        "Entity List (EL)",
        entry_id,
        name,
        PartyType.ENTITY,
        aliases=aliases,
        countries=(country,),
    )


@pytest.fixture(scope="module")
def screener() -> Screener:
    entries = [
        entity("1", "iFlytek", "IFLYTEK CO., LTD.", "科大讯飞股份有限公司", "Ke Da Xun Fei"),
        entity(
            "2", "Beijing SenseTime Technology Development Co., Ltd.", "北京市商汤科技开发有限公司"
        ),
        entity("3", "Example Trading Company", country="IR"),
        ListEntry("OFAC SDN", "4", "PETROV, Ivan", PartyType.INDIVIDUAL, countries=("RU",)),
    ]
    # Filler, so that candidate ranking has something to rank against.
    entries += [entity(f"f{i}", f"Filler {w} Technology Co") for i, w in enumerate("abcdefgh")]
    return Screener(entries)


class TestScreener:
    @pytest.mark.parametrize(
        "query",
        [
            "iFlytek Co Ltd",
            "IFLYTEK CO., LTD.",
            "Ke Da Xun Fei",
            "Keda Xunfei",
            "科大讯飞股份有限公司",
        ],
    )
    def test_the_story_names_find_iflytek(self, screener: Screener, query: str) -> None:
        top = screener.screen(query)[0]
        assert (top.entry.entry_id, top.is_match) == ("1", True)

    def test_the_match_says_which_name_matched(self, screener: Screener) -> None:
        top = screener.screen("北京市商汤科技开发有限公司")[0]
        assert top.entry.entry_id == "2"
        assert top.matched_name == "北京市商汤科技开发有限公司"
        assert top.explanation["matched"] == "alias"

    def test_generic_name_matches_nothing(self, screener: Screener) -> None:
        assert not any(m.is_match for m in screener.screen("Technology Company Limited"))

    def test_country_supports_or_weakens(self, screener: Screener) -> None:
        same = screener.screen("Example Trading Co", country="IR")[0]
        other = screener.screen("Example Trading Co", country="DE")[0]
        assert same.score > other.score
        assert any("country IR" in a for a in same.explanation["adjustments"])

    def test_party_type_weakens_a_person_against_a_company(self, screener: Screener) -> None:
        person = screener.screen("Ivan Petrov", party_type=PartyType.INDIVIDUAL)[0]
        company = screener.screen("Ivan Petrov", party_type=PartyType.ENTITY)[0]
        assert person.score > company.score

    def test_threshold_is_configurable(self) -> None:
        strict = Screener([entity("1", "Example Robotics")], threshold=0.99)
        found = strict.screen("Exampel Robotics")
        assert found
        assert not found[0].is_match
        assert Screener([entity("1", "Example Robotics")]).screen("Exampel Robotics")[0].is_match

    def test_results_are_ranked_by_score(self, screener: Screener) -> None:
        matches = screener.screen("Filler a Technology")
        assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_the_library_imports_nothing_else_of_gpurent() -> None:
    import ast
    from pathlib import Path

    import gpurent.screening

    root = Path(gpurent.screening.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                assert not name.startswith("gpurent.") or name.startswith("gpurent.screening"), (
                    f"{path.name} imports {name}"
                )
