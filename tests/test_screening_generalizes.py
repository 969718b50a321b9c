"""Screening on the kinds of names it used to miss or flag wrongly, against the real SDN
and non-SDN lists. The listed names are the lists' own; the queries are variants written
for these tests (or real company names that are not listed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpurent.lists.service import read_bundled
from gpurent.screening import Match, PartyType, Screener, analyze, compare, read_list


@pytest.fixture(scope="module")
def screener(lists_dir: Path) -> Screener:
    watchman = lists_dir / "moov-io_watchman"
    entries = (
        read_list(watchman / "sdn.csv").entries + read_list(watchman / "cons_prim.csv").entries
    )
    return Screener(entries + read_bundled().entries)


def top(screener: Screener, query: str, party_type: PartyType | None = None) -> Match:
    found = screener.screen(query, party_type=party_type)
    assert found, query
    return found[0]


def matches(screener: Screener, query: str, party_type: PartyType | None = None) -> list[Match]:
    return [m for m in screener.screen(query, party_type=party_type) if m.is_match]


class TestAbbreviatedCommonWords:
    @pytest.mark.parametrize(
        ("query", "entry_id"),
        [
            ("Dawning Info Industry Co Ltd", "33113"),  # DAWNING INFORMATION INDUSTRY CO., LTD
            ("Advanced Elec Dev Ltd", "8310"),  # ADVANCED ELECTRONICS DEVELOPMENT, LTD
            ("Shiraz Elec Inds", "11183"),  # SHIRAZ ELECTRONICS INDUSTRIES
            ("Niru Battery Mfg Co", "11446"),  # NIRU BATTERY MANUFACTURING COMPANY
            ("Mizan Machine Mfg Grp", "10389"),  # MIZAN MACHINE MANUFACTURING GROUP
            ("Beijing Alite Tech Co Ltd", "9750"),  # BEIJING ALITE TECHNOLOGIES CO., LTD.
            ("Pishro Sys Research Co", "15914"),  # PISHRO SYSTEMS RESEARCH COMPANY
            ("Fartrade Hldgs SA", "8366"),  # FARTRADE HOLDINGS S.A.
            ("Arab Petroleum Eng Co Ltd", "8341"),  # ARAB PETROLEUM ENGINEERING COMPANY LTD
            ("Iraqi Freight Svcs Ltd", "8375"),  # IRAQI FREIGHT SERVICES LIMITED
            ("Semiconductor Mfg Intl Corp", "30951"),  # SEMICONDUCTOR MANUFACTURING INT...
            ("Iran Aircraft Mfg Ind Co", "11195"),  # IRAN AIRCRAFT MANUFACTURING INDUSTRIAL
        ],
    )
    def test_the_abbreviation_finds_the_full_name(
        self, screener: Screener, query: str, entry_id: str
    ) -> None:
        best = top(screener, query, PartyType.ENTITY)
        assert (best.entry.entry_id, best.is_match) == (entry_id, True), best.as_dict()


class TestDistinguishingWords:
    def test_an_exact_name_ranks_above_its_sister_company(self, screener: Screener) -> None:
        first = screener.screen("Etco International Company Limited")
        assert first[0].entry.entry_id == "768"  # ETCO INTERNATIONAL COMPANY, LIMITED
        assert first[0].exact
        for query in ("Etco International", "Etco Intl Co"):
            partial = screener.screen(query)
            assert partial[0].entry.entry_id == "768", query
            # ETCO INTERNATIONAL COMMODITIES LTD. has a word the query lacks.
            sister = [m for m in partial if m.entry.entry_id == "767"]
            assert all(m.score < partial[0].score and not m.is_match for m in sister)

    def test_two_companies_of_one_group_do_not_tie(self, screener: Screener) -> None:
        services = screener.screen("Iraqi Allied Services Ltd")
        assert services[0].entry.entry_id == "8374"
        freight = next((m for m in services if m.entry.entry_id == "8375"), None)
        assert freight is None or freight.score < services[0].score

    def test_huawei_technologies_is_not_huawei_investment(self, screener: Screener) -> None:
        best = top(screener, "Huawei Technologies Co., Ltd.")
        assert (best.entry.entry_id, best.score, best.exact) == ("30947", 1.0, True)
        found = screener.screen("Huawei Technologies Co., Ltd.")
        assert not [m for m in found if m.entry.entry_id == "32087" and m.is_match]
        # The holding company's own name ranks first, though the list also gives it as
        # an alias of Huawei Technologies.
        assert top(screener, "Huawei Investment & Holding Co Ltd").entry.entry_id == "32087"

    def test_a_partial_name_never_reaches_an_exact_one_with_the_country(
        self, screener: Screener
    ) -> None:
        found = screener.screen("Dawning Information Industry Co Ltd", country="CN")
        assert found[0].exact
        assert all(m.score < found[0].score for m in found[1:] if not m.exact)


class TestExactNames:
    @pytest.mark.parametrize(
        ("query", "entry_id"),
        [
            ("GAZPROM MEDIA HOLDING", "20296"),  # one of many names with "gazprom"
            ("JSC Gazprom-Media Holding", "20296"),
            ("JOINT STOCK COMPANY SECURITY TECHNOLOGIES", "18786"),
            ("Gazprom Telecom", "19654"),
        ],
    )
    def test_a_listed_name_finds_its_entry_first(
        self, screener: Screener, query: str, entry_id: str
    ) -> None:
        best = top(screener, query, PartyType.ENTITY)
        assert (best.entry.entry_id, best.is_match, best.exact) == (entry_id, True, True)


class TestWordOnOneSide:
    def test_a_bank_is_not_the_bank_with_another_word(self, screener: Screener) -> None:
        # KOREA UNITED DEVELOPMENT BANK (DPRK) is not the Korea Development Bank.
        assert not matches(screener, "Korea Development Bank", PartyType.ENTITY)
        assert top(screener, "Korea United Development Bank").entry.entry_id == "19509"

    def test_a_longer_customer_name_is_not_the_shorter_listed_one(self, screener: Screener) -> None:
        # AGRICULTURAL DEVELOPMENT BANK (DPRK) is not China's policy bank.
        assert not matches(screener, "Agricultural Development Bank of China")
        assert top(screener, "Agricultural Development Bank").entry.entry_id == "22983"

    def test_the_explanation_names_the_word(self) -> None:
        result = compare(
            analyze("Korea Development Bank"), analyze("KOREA UNITED DEVELOPMENT BANK")
        )
        assert result.unpaired_candidate == ("united",)
        assert any("united" in a for a in result.adjustments), result.adjustments


class TestNearMissDistinctiveWords:
    @pytest.mark.parametrize(
        "query",
        [
            "Nika Co",  # NICO, a four-letter name
            "Alumis Inc.",  # ALUMIX
            "Exagen Inc.",  # EXAGAN
        ],
    )
    def test_one_letter_off_a_short_name_is_not_a_match(
        self, screener: Screener, query: str
    ) -> None:
        assert not matches(screener, query, PartyType.ENTITY)

    def test_a_typo_in_a_long_name_still_matches(self, screener: Screener) -> None:
        best = top(screener, "Fartrade Holdngs SA", PartyType.ENTITY)
        assert (best.entry.entry_id, best.is_match) == ("8366", True)


class TestSoundAlone:
    @pytest.mark.parametrize("query", ["Cigna", "Cigna Corporation", "Nike", "Intuit"])
    def test_real_companies_do_not_match_on_sound(self, screener: Screener, query: str) -> None:
        assert not matches(screener, query), [m.as_dict() for m in matches(screener, query)]
        assert not matches(screener, query, PartyType.ENTITY)

    def test_people_still_match_on_sound(self, screener: Screener) -> None:
        # ABU ZUBAYDAH (an SDN individual) spelt by ear.
        best = top(screener, "Abu Zubaida", PartyType.INDIVIDUAL)
        assert best.is_match
        assert best.explanation["rules"] == "person"


class TestPartyType:
    def test_a_company_is_never_a_vessel(self, screener: Screener) -> None:
        # DOVER and SANA are tankers on the SDN list.
        for query in ("Dover Corporation", "Sana Corp", "Dover"):
            found = screener.screen(query, party_type=PartyType.ENTITY)
            assert all(m.party_type is not PartyType.VESSEL for m in found), query
        # A legal form says it is a company even when no type is given.
        assert all(m.party_type is not PartyType.VESSEL for m in screener.screen("Dover Corp"))

    def test_a_query_without_a_type_says_each_match_s_type(self, screener: Screener) -> None:
        found = screener.screen("Dover")
        vessel = next(m for m in found if m.entry.entry_id == "15046")
        assert vessel.party_type is PartyType.VESSEL
        assert vessel.as_dict()["party_type"] == "vessel"
        assert vessel.explanation["party_type"] == "vessel"

    def test_a_person_is_never_a_company(self, screener: Screener) -> None:
        found = screener.screen("Huawei Technologies", party_type=PartyType.INDIVIDUAL)
        assert all(m.party_type in (PartyType.INDIVIDUAL, PartyType.UNKNOWN) for m in found)


class TestCommonWordsOnly:
    @pytest.mark.parametrize(
        ("query", "entry_id"),
        [
            ("China Telecom Corporation Limited", "30882"),
            ("China Telecom Corp Ltd", "30882"),
            ("CHINA TELECOM CO., LTD", "30882"),
            ("Semiconductor Manufacturing International Corporation", "30951"),
            ("China Telecommunications Corp", "30939"),
        ],
    )
    def test_a_name_of_common_words_is_found(
        self, screener: Screener, query: str, entry_id: str
    ) -> None:
        best = top(screener, query, PartyType.ENTITY)
        assert (best.entry.entry_id, best.is_match) == (entry_id, True), best.as_dict()

    @pytest.mark.parametrize(
        "query",
        [
            "First Bank",  # not FIRST EAST EXPORT BANK PLC
            "China Telecom Americas Corp",
            "Semiconductor Manufacturing Company",
            "International Industrial Bank",  # not INTERNATIONAL INDUSTRIAL DEVELOPMENT BANK
        ],
    )
    def test_other_common_word_names_are_not(self, screener: Screener, query: str) -> None:
        assert not matches(screener, query, PartyType.ENTITY), query
