"""The pure screening library: normalization, comparison and the screener's index."""

from __future__ import annotations

import pytest

from gpurent.screening import ListEntry, PartyType, Screener, analyze, compare
from gpurent.screening.compare import Rules, token_similarity
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
        result = compare(analyze("Global Trading"), analyze("Global Trading Group Ltd"))
        assert result.score == 0.5
        assert any("no distinctive word" in a for a in result.adjustments)

    def test_a_name_of_generic_words_matches_itself_whatever_its_words(self) -> None:
        same = compare(analyze("Global Trading Group Ltd"), analyze("GLOBAL TRADING GROUP LIMITED"))
        assert (same.score, same.exact) == (1.0, True)
        # Without the legal form: the same words, just below the exact name.
        assert score("Global Trading Group", "Global Trading Group Ltd") == 0.98

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

    def test_a_query_s_party_type_leaves_other_types_out(self, screener: Screener) -> None:
        person = screener.screen("Ivan Petrov", party_type=PartyType.INDIVIDUAL)[0]
        assert (person.entry.entry_id, person.party_type) == ("4", PartyType.INDIVIDUAL)
        assert screener.screen("Ivan Petrov", party_type=PartyType.ENTITY) == []
        untyped = screener.screen("Ivan Petrov")[0]
        assert untyped.as_dict()["party_type"] == "individual"

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


class TestCommonWordForms:
    @pytest.mark.parametrize(
        ("written", "compared"),
        [
            ("Acme Info Tech Co Ltd", ("acme", "information", "technology")),
            ("Acme Intl Hldgs", ("acme", "international", "holding")),
            ("Acme Natl Dev Bank", ("acme", "national", "development", "bank")),
            ("Acme Mfg Grp", ("acme", "manufacturing", "group")),
            ("Acme Svcs Sys", ("acme", "service", "system")),
            ("Acme Elec Eng Ind", ("acme", "electric", "engineering", "industry")),
            (
                "ACME ELECTRONICS ENGINEERING INDUSTRIES",
                ("acme", "electric", "engineering", "industry"),
            ),
            ("Acme Technologies Corps", ("acme", "technology")),
        ],
    )
    def test_abbreviations_and_plurals_take_one_form(
        self, written: str, compared: tuple[str, ...]
    ) -> None:
        assert analyze(written).tokens == compared

    def test_roman_numerals_become_numbers_but_names_stay(self) -> None:
        assert analyze("Acme Fund III L.P.").tokens == ("acme", "fund", "3")
        assert analyze("Citigroup Capital Trust II").tokens[-1] == "2"
        assert analyze("Xi Jinping").tokens == ("xi", "jinping")
        assert analyze("Vi Nguyen").tokens == ("vi", "nguyen")
        assert analyze("Brigade Forty 4").tokens == ("brigade", "44")

    def test_hangul_is_written_as_the_lists_write_korean_names(self) -> None:
        assert analyze("김정은").tokens == ("kim", "jong", "un")
        assert score("김정은", "KIM Jong Un") == 1.0
        assert score("박지성", "Park Ji Sung") >= 0.75


class TestRules:
    def test_sound_alike_is_for_people_only(self) -> None:
        assert token_similarity("husayn", "hussein", person=True) >= 0.85
        assert token_similarity("husayn", "hussein", person=False) < 0.6
        assert score("Saddam Husayn", "Saddam Hussein") >= 0.75
        person = compare(analyze("Cigna"), analyze("Sana"), Rules.PERSON)
        company = compare(analyze("Cigna"), analyze("Sana"), Rules.ORGANIZATION)
        assert company.score < 0.6
        assert person.score < 0.75  # nor a person's: spelt too far apart

    def test_company_words_make_company_rules(self) -> None:
        assert compare(analyze("Acme Trading"), analyze("Akme Trading")).rules is Rules.ORGANIZATION
        assert compare(analyze("Olaf Scholz"), analyze("Olaf Scholz")).rules is Rules.PERSON

    def test_an_exact_name_scores_above_any_partial_one(self) -> None:
        exact = compare(analyze("Acme Technologies Co Ltd"), analyze("ACME TECHNOLOGIES CO., LTD."))
        sister = compare(
            analyze("Acme Technologies Co Ltd"), analyze("ACME INVESTMENT & HOLDING CO., LTD.")
        )
        reordered = compare(
            analyze("Technologies Acme Co Ltd"), analyze("ACME TECHNOLOGIES CO., LTD.")
        )
        assert (exact.score, exact.exact) == (1.0, True)
        assert sister.score < 0.75
        assert reordered.score <= 0.99
        assert not reordered.exact

    def test_a_word_on_one_side_only_tells_companies_apart(self) -> None:
        result = compare(analyze("Acme Development Bank"), analyze("Acme United Development Bank"))
        assert result.score < 0.75
        assert any("united" in a for a in result.adjustments)
        assert score("Acme Trust Co", "Acme Co") < 0.75
        # A place the list adds is no other company.
        assert score("Acme Ltd", "Acme Europe Ltd") >= 0.75

    def test_a_short_distinctive_word_must_agree_exactly(self) -> None:
        assert score("Acma Co", "Acme Co") < 0.75
        assert score("Megatron Technology", "Megatrend Technology") < 0.75
        assert score("Megatroncs Technology", "Megatronics Technology") >= 0.75

    def test_common_words_match_only_word_for_word(self) -> None:
        assert score("First Bank", "First East Export Bank") < 0.75
        assert score("China Telecom Corp Ltd", "China Telecom Corporation Limited") == 1.0
        assert score("China Telecom Americas Corp", "China Telecom Corporation Limited") < 0.75
        every = compare(analyze("China Telecom"), analyze("China Telecom Corporation Limited"))
        assert every.score >= 0.75
        assert every.adjustments

    def test_abjad_names_compare_on_consonants_arabic_has(self) -> None:
        # Arabic writes p as b and v as f; a waw or vav may be a vowel or a consonant.
        assert score("فرناندو بيريز", "Fernando Pérez") >= 0.75
        assert score("דוד", "David") >= 0.75
        assert compare(analyze("بيريز"), analyze("Perez"), Rules.ORGANIZATION).score < 0.75

    def test_initials_run_together_stand_for_the_names(self) -> None:
        result = compare(analyze("JC Juncker"), analyze("Jean-Claude Juncker"), Rules.PERSON)
        assert ("jc", "jean claude") in {(p.query, p.candidate) for p in result.pairs}
        assert result.score >= 0.75
        assert score("JK Juncker", "Jean-Claude Juncker") < 0.75

    def test_a_person_s_name_found_whole_in_a_longer_one(self) -> None:
        result = compare(analyze("Janan Agha"), analyze("Janan Mohammad Ahmed Agha"), Rules.PERSON)
        assert result.score >= 0.75
        assert any("shorter name" in a for a in result.adjustments)
        # A given name is not the patronymic made from it.
        assert score("Oleksandr Zelenskyy", "Volodymyr Oleksandrovych Zelenskyy") < 0.75


@pytest.fixture(scope="module")
def kinds() -> Screener:
    return Screener(
        [
            entity("1", "ACME TECHNOLOGIES CO., LTD."),
            entity("2", "ACME INVESTMENT & HOLDING CO., LTD.", "ACME TECHNOLOGIES CO LTD"),
            ListEntry("OFAC SDN", "3", "DOVER", PartyType.VESSEL),
            ListEntry("OFAC SDN", "4", "SKYHAWK", PartyType.AIRCRAFT),
            entity("5", "CHINA TELECOM CORPORATION LIMITED"),
            *(entity(f"f{i}", f"Filler {w} Telecom Co") for i, w in enumerate("abcdef")),
        ]
    )


class TestScreenerKinds:
    def test_a_company_query_never_matches_a_vessel_or_an_aircraft(self, kinds: Screener) -> None:
        assert kinds.screen("Dover", party_type=PartyType.ENTITY) == []
        assert kinds.screen("Skyhawk Inc.") == []  # the legal form says it is a company
        vessel = kinds.screen("Dover")[0]
        assert (vessel.party_type, vessel.as_dict()["party_type"]) == (PartyType.VESSEL, "vessel")
        assert kinds.screen("Dover", party_type=PartyType.VESSEL)[0].is_match

    def test_the_entry_whose_own_name_it_is_ranks_first(self, kinds: Screener) -> None:
        found = kinds.screen("Acme Technologies Co., Ltd.", country="CN")
        assert [m.entry.entry_id for m in found[:2]] == ["1", "2"]
        assert found[0].exact
        assert found[0].explanation["matched"] == "primary name"

    def test_a_name_of_common_words_is_found_through_the_index(self, kinds: Screener) -> None:
        top = kinds.screen("China Telecom Corp Ltd")[0]
        assert (top.entry.entry_id, top.is_match, top.exact) == ("5", True, True)
        assert not any(m.is_match for m in kinds.screen("China Telecom Americas Corp"))

    @pytest.mark.parametrize(
        "evasion",
        [
            "A.C.M.E. Technologies Co., Ltd.",
            "acme   TECHNOLOGIES company limited",
            "Acme Techs Co Ltd",
            "Acme Tech. Co., Ltd",
            "ACME TECHNOLOGIES CO.,LTD.",
        ],
    )
    def test_a_renter_cannot_dodge_by_rewriting_the_name(
        self, kinds: Screener, evasion: str
    ) -> None:
        top = kinds.screen(evasion, party_type=PartyType.ENTITY)[0]
        assert (top.entry.entry_id, top.is_match) == ("1", True), top.as_dict()
