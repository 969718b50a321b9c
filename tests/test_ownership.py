"""Ownership by the cascading test: OFAC FAQ 401's worked examples, the over-counting
case, the news story's subsidiary route, unknown shares, one party reached through
several branches, and the lists' own ownership links. Each case runs through the pure
function, and the dossier cases also through `gpurent compliance check` on SQLite and
PostgreSQL (lists: the bundled Entity List excerpt and tests/fixtures/lists/ownership)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.compliance import monitoring, redecide, service
from gpurent.compliance.dossier import parse_dossier
from gpurent.compliance.models import Alert, DecisionRecord, Standing
from gpurent.compliance.ownership import (
    OWNERSHIP_METHOD,
    ListedParty,
    OwnershipGraph,
    analyze,
)
from gpurent.compliance.policy import load_policy
from gpurent.config import Settings
from gpurent.db import migrate
from gpurent.db.engine import make_engine
from gpurent.lists import service as lists
from gpurent.worker.runner import Worker
from tests.test_cli import ok

DOSSIERS = Path(__file__).parent / "fixtures" / "dossiers"
OWNERSHIP_LIST = Path(__file__).parent / "fixtures" / "lists" / "ownership" / "sdn_advanced.xml"

# The listed parties of the cases: the pure function's stand-in for screening.
X = "Northwind Strategic Holdings LLC"  # OFAC SDN [IRAN]
LYRA = "Lyra Marine Services"  # OFAC SDN [SDGT], another OFAC programme
KESTREL = "Kestrel Alloy Trading FZE"  # OFAC SDN [NPWMD]: EAR 744.8, so BIS too
MERIDIAN = "Meridian Optics JSC"  # non-SDN CMIC: no 50% rule; the list links it to X
BIREN = "Shanghai Biren Intelligent Technology Co., Ltd."  # Entity List
SOPHGO = "Sophgo Technologies Ltd."  # Entity List
LISTED: dict[str, tuple[str, str, frozenset[str]]] = {
    X: ("SDN List", "501", frozenset({"ofac"})),
    LYRA: ("SDN List", "503", frozenset({"ofac"})),
    KESTREL: ("SDN List", "502", frozenset({"ofac", "bis"})),
    MERIDIAN: (
        "Non-SDN Chinese Military-Industrial Complex Companies List",
        "504",
        frozenset({"other"}),
    ),
    BIREN: ("Entity List (EL) - Bureau of Industry and Security", "el-biren", frozenset({"bis"})),
    SOPHGO: ("Entity List (EL) - Bureau of Industry and Security", "el-sophgo", frozenset({"bis"})),
}
LINKS = {MERIDIAN: [(X, "Owned or Controlled By")]}  # what the list itself records


def party(name: str) -> ListedParty | None:
    if name not in LISTED:
        return None
    list_name, entry_id, regimes = LISTED[name]
    return ListedParty(list_name, entry_id, name.upper(), regimes, 1.0, ((list_name, entry_id),))


def listed(name: str, country: str | None) -> ListedParty | None:
    return party(name)


def linked(found: ListedParty) -> list[tuple[ListedParty, str]]:
    by_id = {v[1]: k for k, v in LISTED.items()}
    owners = LINKS.get(by_id[found.entry_id], [])
    return [(p, relation) for name, relation in owners if (p := party(name)) is not None]


def co(name: str, percent: float | None, *owners: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "percent": percent, "owners": list(owners)}


def record(legal_name: str, *owners: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "legal_name": legal_name,
        "incorporation_country": "NL",
        "headquarters_country": "NL",
        "owners": list(owners),
        **extra,
    }


@dataclass(frozen=True)
class Case:
    name: str  # also the fixture dossier's file name
    dossier: dict[str, Any]
    ofac: str  # the cascading test's status under OFAC
    bis: str  # and under BIS
    decision: str  # what the default policy decides (as of 2026-11-28)
    rule: str | None  # a rule that must be among the reasons
    says: tuple[str, ...] = ()  # explanations that must appear in the evidence
    absent: str | None = None  # a rule that must not fire


CASES = [
    # FAQ 401, example 1: X owns 50% of A; A owns 50% of B. A and B are blocked.
    Case(
        "faq401-1",
        record("Bravo Logistics BV", co("Alder Intermediate BV", 50, co(X, 50))),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Alder Intermediate BV is restricted: Northwind Strategic Holdings LLC holds 50%",
         "Alder Intermediate BV (restricted) holds 50%"),
    ),
    # Example 2: X owns 50% of A and of B; A and B each own 25% of C. C is blocked.
    Case(
        "faq401-2",
        record(
            "Charlie Freight BV",
            co("Alder Intermediate BV", 25, co(X, 50)),
            co("Birch Capital SA", 25, co(X, 50)),
            co("Charlie founders", 50),
        ),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Alder Intermediate BV is restricted: Northwind Strategic Holdings LLC holds 50%",
         "Birch Capital SA is restricted: Northwind Strategic Holdings LLC holds 50%"),
    ),
    # Example 3: X owns 50% of A and 10% of B; A owns 40% of B. B is blocked (10 + 40).
    Case(
        "faq401-3",
        record(
            "Delta Shipping BV",
            co(X, 10),
            co("Alder Intermediate BV", 40, co(X, 50)),
            co("Delta founders", 50),
        ),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Alder Intermediate BV is restricted: Northwind Strategic Holdings LLC holds 50%",),
    ),
    # Example 4: X owns 25% of A and of B; A and B each own 50% of C. C is not blocked.
    Case(
        "faq401-4",
        record(
            "Echo Trading BV",
            co("Alder Intermediate BV", 50, co(X, 25), co("Alder partners", 75)),
            co("Birch Capital SA", 50, co(X, 25), co("Birch partners", 75)),
        ),
        "clear", "clear", "review", "listed-owner", (), "ofac-50-percent-rule",
    ),
    # The over-counting case: 40% of an intermediary holding 80%, plus 20% held
    # directly, is 20% (multiplying would say 52%).
    Case(
        "over-counting-40-80-20",
        record(
            "Foxtrot Compute BV",
            co("Alder Intermediate BV", 80, co(X, 40), co("Alder partners", 60)),
            co(X, 20),
        ),
        "clear", "clear", "review", "listed-owner", (), "ofac-50-percent-rule",
    ),
    # The news story: 50% of the customer held by a holding company that an Entity List
    # party owns 50% of. Refused under the Affiliates rule.
    Case(
        "news-story-holding-50-50",
        record(
            "Golf Vision Pte Ltd",
            co("Harbour Holdings Ltd", 50, co(BIREN, 50), co("Harbour partners", 50)),
            co("Golf founders", 50),
        ),
        "clear", "restricted", "deny", "bis-affiliates-rule",
        ("Harbour Holdings Ltd is restricted: "
         "Shanghai Biren Intelligent Technology Co., Ltd. holds 50%",),
    ),
    # Listed parties of different OFAC programmes add up (30% IRAN + 25% SDGT).
    Case(
        "two-ofac-programmes-55",
        record("Hotel Analytics BV", co(X, 30), co(LYRA, 25), co("Hotel partners", 45)),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
    ),
    # Regimes do not add up: 30% Entity List + 25% OFAC is neither rule's 50%...
    Case(
        "el-30-ofac-25",
        record("India Robotics BV", co(BIREN, 30), co(X, 25), co("India partners", 45)),
        "clear", "clear", "review", "listed-owner", (), "bis-affiliates-rule",
    ),
    # ... but an SDN of EAR 744.8 counts for BIS too: 30% Entity List + 25% NPWMD.
    Case(
        "el-30-npwmd-25",
        record("Juliet Sensors BV", co(BIREN, 30), co(KESTREL, 25), co("Juliet partners", 45)),
        "clear", "restricted", "deny", "bis-affiliates-rule",
    ),
    # Unknown share of a listed owner in an intermediary that holds 60%: could be 70%.
    Case(
        "unknown-share-could-tip",
        record(
            "Kilo Render BV",
            co("Harbour Holdings Ltd", 60, co(X, None), co("Harbour partners", 30)),
            co("Kilo founders", 40),
        ),
        "undetermined", "clear", "review", "ofac-ownership-undetermined",
        ("the share Northwind Strategic Holdings LLC holds in Harbour Holdings Ltd (not given)",),
    ),
    # The same unknown share cannot reach 50% when the known ones leave 40%.
    Case(
        "unknown-share-cannot-tip",
        record(
            "Lima Render BV",
            co("Harbour Holdings Ltd", 60, co(X, None), co("Harbour partners", 60)),
            co("Lima founders", 40),
        ),
        "clear", "clear", "review", "listed-owner", (), "ofac-ownership-undetermined",
    ),
    # A restricted intermediary whose share in the customer is not given.
    Case(
        "unknown-share-of-restricted-intermediary",
        record(
            "Mike Studios BV",
            co("Harbour Holdings Ltd", None, co(X, 100)),
            co("Mike founders", 30),
        ),
        "undetermined", "clear", "review", "ofac-ownership-undetermined",
        ("Harbour Holdings Ltd is restricted: Northwind Strategic Holdings LLC holds 100%",
         "the share Harbour Holdings Ltd holds in Mike Studios BV (not given)"),
    ),
    # A listed owner's unknown share does not matter when 50% is already reached.
    Case(
        "unknown-share-beside-50",
        record("November Labs BV", co(X, 50), co(LYRA, None)),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
    ),
    # One listed party through several branches is one party: X reaches the customer
    # through A and through B (FAQ 401's example 2 shape, X named in both places).
    Case(
        "multi-branch-same-party",
        record(
            "Oscar Data BV",
            co("Alder Intermediate BV", 30, co(X, 60), co("Alder partners", 40)),
            co("Birch Capital SA", 25, co(X, 60), co("Birch partners", 40)),
            co("Oscar founders", 45),
        ),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Alder Intermediate BV is restricted: Northwind Strategic Holdings LLC holds 60%",
         "Birch Capital SA is restricted: Northwind Strategic Holdings LLC holds 60%"),
    ),
    # The same intermediary named twice with the same listed owner: X's 30% of Harbour
    # counts once (counted twice it would make Harbour restricted).
    Case(
        "same-intermediary-twice",
        record(
            "Papa Vision BV",
            co("Alder Intermediate BV", 60, co("Harbour Holdings Ltd", 100, co(X, 30))),
            co("Harbour Holdings Ltd", 40, co(X, 30)),
        ),
        "clear", "clear", "review", "listed-owner", (), "ofac-50-percent-rule",
    ),
    # An intermediary named twice, its owners given once: still one party, restricted.
    Case(
        "intermediary-owners-given-once",
        record(
            "Quebec Compute BV",
            co("Alder Intermediate BV", 30, co("Harbour Holdings Ltd", 100, co(X, 50))),
            co("Harbour Holdings Ltd", 25),
            co("Quebec founders", 45),
        ),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Harbour Holdings Ltd is restricted: Northwind Strategic Holdings LLC holds 50%",
         "Alder Intermediate BV is restricted: Harbour Holdings Ltd holds 100%"),
    ),
    # The list itself records Meridian (CMIC, no 50% rule) as owned or controlled by X,
    # without a percentage: Meridian may be blocked, so its 60% must be looked at.
    Case(
        "list-link-unknown-share",
        record("Romeo Optics BV", co(MERIDIAN, 60), co("Romeo founders", 40)),
        "undetermined", "clear", "review", "ofac-ownership-undetermined",
        ("the share NORTHWIND STRATEGIC HOLDINGS LLC holds in Meridian Optics JSC",),
    ),
    # A listed ultimate parent that the owners tree leaves out: its share is unknown.
    Case(
        "listed-ultimate-parent-not-in-tree",
        record(
            "Sierra Render BV",
            co("Sierra holding partners", 100),
            ultimate_parent={"name": BIREN, "headquarters_country": "CN"},
        ),
        "clear", "undetermined", "review", "bis-ownership-undetermined",
        ("the share Shanghai Biren Intelligent Technology Co., Ltd., the ultimate parent, "
         "holds in Sierra Render BV, and through whom",),
    ),
    # Cross-holdings among unlisted parties make nobody restricted; with X's 50% of one
    # of them, both are.
    Case(
        "cross-holding-with-listed",
        record(
            "Tango Cloud BV",
            co("Alder Intermediate BV", 100, co("Birch Capital SA", 60,
               co("Alder Intermediate BV", 50), co(X, 50))),
        ),
        "restricted", "clear", "deny", "ofac-50-percent-rule",
        ("Birch Capital SA is restricted: Northwind Strategic Holdings LLC holds 50%",
         "Alder Intermediate BV is restricted: Birch Capital SA holds 60%"),
    ),
]  # fmt: skip
IDS = [c.name for c in CASES]


def graph_of(case: Case) -> OwnershipGraph:
    return analyze(parse_dossier(case.dossier), listed, linked)


def all_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class TestCascadingTest:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_status_per_regime(self, case: Case) -> None:
        graph = graph_of(case)
        assert (graph.test("ofac").status, graph.test("bis").status) == (case.ofac, case.bis)

    @pytest.mark.parametrize("case", CASES, ids=IDS)
    def test_explanations(self, case: Case) -> None:
        graph = graph_of(case)
        text = all_text([graph.test(r).evidence() for r in ("ofac", "bis")])
        for phrase in case.says:
            assert phrase in text, text

    def test_faq_example_1_restricts_the_intermediary_and_the_customer(self) -> None:
        test = graph_of(CASES[0]).test("ofac")
        assert (test.share, test.status) == (Decimal(50), "restricted")
        assert test.intermediaries == (
            "Alder Intermediate BV is restricted: Northwind Strategic Holdings LLC holds 50%",
        )

    def test_faq_example_3_adds_direct_and_restricted_shares(self) -> None:
        test = graph_of(CASES[2]).test("ofac")
        assert test.share == Decimal(50)
        assert set(test.held_by) == {
            "Northwind Strategic Holdings LLC (listed) holds 10%",
            "Alder Intermediate BV (restricted) holds 40%",
        }

    def test_economic_interest_is_shown_but_does_not_decide(self) -> None:
        """FAQ 401's example 4: X's multiplied interest is 25%; under the multiplying
        method the over-counting case reaches 52% and would be refused."""
        example_4 = graph_of(CASES[3]).test("ofac")
        (owner,) = example_4.listed
        assert owner.as_dict()["economic_interest_percent"] == "25"
        assert example_4.share == 0
        over = graph_of(CASES[4]).test("ofac")
        (x,) = over.listed
        assert x.as_dict()["economic_interest_percent"] == "52"
        assert (over.share, over.status) == (Decimal(20), "clear")

    def test_one_listed_party_through_several_branches_is_one_party(self) -> None:
        test = graph_of(CASES[IDS.index("multi-branch-same-party")]).test("ofac")
        (x,) = test.listed
        assert x.branches == (
            "Alder Intermediate BV (30%) -> Northwind Strategic Holdings LLC (60%)",
            "Birch Capital SA (25%) -> Northwind Strategic Holdings LLC (60%)",
        )
        assert x.as_dict()["economic_interest_percent"] == "33"
        assert test.share == Decimal(55)

    def test_the_unknown_share_named_is_the_one_that_could_tip_it(self) -> None:
        test = graph_of(CASES[IDS.index("unknown-share-could-tip")]).test("ofac")
        assert test.to_establish == (
            "the share Northwind Strategic Holdings LLC holds in Harbour Holdings Ltd (not given)",
        )
        assert (test.share, test.most) == (Decimal(0), Decimal(60))
        assert "Harbour Holdings Ltd may be restricted" in test.undetermined[0]

    def test_conflicting_declarations_of_one_share_must_be_established(self) -> None:
        dossier = record(
            "Uniform BV",
            co("Harbour Holdings Ltd", 60, co(X, 40), co("Harbour partners", 40)),
            co("Harbour Holdings Ltd", 60, co(X, 60)),
            co("Uniform founders", 40),
        )
        test = analyze(parse_dossier(dossier), listed, linked).test("ofac")
        assert test.status == "undetermined"
        assert test.to_establish == (
            "the share Northwind Strategic Holdings LLC holds in Harbour Holdings Ltd "
            "(declared as 40% or 60%)",
        )

    def test_a_listed_beneficial_owner_outside_the_tree_is_undetermined(self) -> None:
        dossier = record(
            "Victor BV",
            co("Victor partners", 100),
            beneficial_owners=[{"name": X, "percent": 30}],
        )
        test = analyze(parse_dossier(dossier), listed, linked).test("ofac")
        assert test.status == "undetermined"
        (owner,) = test.listed
        assert owner.as_dict()["economic_interest_percent"] == "30"

    def test_a_beneficial_owner_shown_in_the_tree_counts_by_the_tree(self) -> None:
        dossier = record(
            "Whiskey BV",
            co(X, 20),
            co("Whiskey partners", 80),
            beneficial_owners=[{"name": X, "percent": 20}],
        )
        assert analyze(parse_dossier(dossier), listed, linked).test("ofac").status == "clear"

    def test_threshold_is_a_parameter(self) -> None:
        graph = graph_of(CASES[IDS.index("over-counting-40-80-20")])
        at_40 = graph.test("ofac", Decimal(40))
        assert (at_40.status, at_40.share) == ("restricted", Decimal(100))
        above = graph.test("ofac", Decimal("40.01"))
        assert (above.status, above.share) == ("clear", Decimal(20))

    def test_shares_declared_beyond_100_percent_are_noted(self) -> None:
        dossier = record("Xray BV", co(X, 40), co("Xray partners", 70))
        test = analyze(parse_dossier(dossier), listed, linked).test("ofac")
        assert test.status == "clear"
        assert test.notes == ("the shares declared in Xray BV add up to 110%",)

    def test_a_wide_hostile_tree_stays_bounded(self) -> None:
        """Many branches to one listed party: the count is exact, the chains shown capped."""
        layer = [co(f"Shell {i}", 1, co(X, 100)) for i in range(60)]
        dossier = record("Yankee BV", *layer, co("Yankee founders", 40))
        test = analyze(parse_dossier(dossier), listed, linked).test("ofac")
        assert (test.share, test.status) == (Decimal(60), "restricted")
        (x,) = test.listed
        assert len(x.branches) == 50
        assert len(test.intermediaries) == 60

    def test_a_dossier_of_exponentially_many_chains_is_decided_quickly(self) -> None:
        """Forty layers of two companies, each holding both of the layer below (their
        owners given once, then named again): 2^40 chains to X. The test is exact; the
        chains shown and the multiplied interest say they are incomplete."""
        top = co("Layer 39 A", 50, co(X, 100))
        a, b = top, co("Layer 39 B", 50)
        for i in range(38, -1, -1):
            a, b = (
                co(f"Layer {i} A", 50, a, b),
                co(f"Layer {i} B", 50, co(f"Layer {i + 1} A", 50), co(f"Layer {i + 1} B", 50)),
            )
        dossier = record("Zulu BV", a, b)
        started = time.perf_counter()
        test = analyze(parse_dossier(dossier), listed, linked).test("ofac")
        assert time.perf_counter() - started < 10  # a shared machine: generous
        assert (test.status, test.share) == ("restricted", Decimal(100))
        (x,) = test.listed
        assert x.as_dict()["economic_interest_percent"].startswith("at least")

    def test_method_is_named(self) -> None:
        assert graph_of(CASES[0]).test("ofac").evidence()["method"] == OWNERSHIP_METHOD


def write_fixtures() -> None:
    """The fixture dossiers are these cases; `python -m tests.test_ownership` rewrites them."""
    for case in CASES:
        path = DOSSIERS / f"ownership-{case.name}.json"
        path.write_text(json.dumps(case.dossier, indent=2, ensure_ascii=False) + "\n")


class TestThroughTheCli:
    def test_fixtures_are_the_cases(self) -> None:
        for case in CASES:
            stored = json.loads((DOSSIERS / f"ownership-{case.name}.json").read_text())
            assert stored == case.dossier, f"run python -m tests.test_ownership ({case.name})"

    def test_the_cases_through_compliance_check(self, db_url: str) -> None:
        env = {"GPURENT_DATABASE_URL": db_url}
        ok("lists", "import", "--bundled", env=env)
        ok("lists", "import", str(OWNERSHIP_LIST), env=env)
        for case in CASES:
            out = ok(
                "compliance", "check", str(DOSSIERS / f"ownership-{case.name}.json"),
                "--gpu-model", "H20", "--gpus", "8", "--hours", "720",
                "--facility-country", "US", "--as-of", "2026-11-28", "--json", env=env,
            )  # fmt: skip
            result = json.loads(out)
            rules = {r["rule"] for r in result["reasons"]}
            assert result["decision"] == case.decision, (case.name, result)
            assert case.rule in rules, (case.name, rules)
            if case.absent:
                assert case.absent not in rules, (case.name, rules)
            text = all_text(result["reasons"])
            for phrase in case.says:
                assert phrase in text, (case.name, phrase, text)


class TestRealListLinks:
    def test_the_consolidated_lists_links_show_in_the_evidence(
        self, session: Session, lists_dir: Path
    ) -> None:
        """OFAC's advanced XML (the real non-SDN file of 2020) records Orenburgneft as
        owned or controlled by Rosneft: Rosneft appears, share unknown, beside the
        listed owner's own 60%."""
        session.rollback()
        path = lists_dir / "radwo_urban-fortnight" / "cons_advanced.xml"
        lists.import_lists(session, lists.read_files([path]), "test")
        dossier = record("Ural Render BV", co("OJSC Orenburgneft", 60), co("Ural founders", 40))
        outcome = service.decide(session, load_policy(), 0.75, parse_dossier(dossier), request=None)
        (deny,) = [r for r in outcome.reasons if r.rule == "ofac-50-percent-rule"]
        assert deny.evidence["held_by_restricted"] == ["OJSC Orenburgneft (listed) holds 60%"]
        branches = [b for p in deny.evidence["listed_parties"] for b in p["branches"]]
        assert any(
            b.startswith("OJSC Orenburgneft (60%) -> ") and "Rosneft" in b and b.endswith("(?)")
            for b in branches
        ), branches


HOLD = timedelta(hours=48)


def customer(session: Session, case_name: str) -> int:
    """A customer with the case's dossier and a standing decided now."""
    case = CASES[IDS.index(case_name)]
    organization = accounts.create_organization(
        session, case.dossier["legal_name"], "customer", "NL", actor="test"
    )
    service.put_dossier(
        session, organization, case.dossier, actor="test", policy=load_policy(), threshold=0.75
    )
    return organization.id


def as_before_the_upgrade(session: Session, organization_id: int, decision: str) -> None:
    """What migration 0009 leaves of a standing the multiplying method decided."""
    session.execute(
        update(DecisionRecord)
        .where(DecisionRecord.organization_id == organization_id)
        .values(ownership_method="multiplied-v1", policy_version=None)
    )
    session.execute(
        update(Standing)
        .where(Standing.organization_id == organization_id)
        .values(decision=decision)
    )
    session.commit()


def lists_loaded(session: Session) -> None:
    session.rollback()
    lists.import_lists(session, [lists.read_bundled(), *lists.read_files([OWNERSHIP_LIST])], "test")


class TestDecisionsKeepUpWithTheMethod:
    def test_each_decision_records_the_policy_and_method_versions(self, session: Session) -> None:
        lists_loaded(session)
        organization_id = customer(session, "faq401-4")
        (decision,) = service.decisions(session, organization_id)
        assert decision.ownership_method == OWNERSHIP_METHOD
        assert decision.policy_version == load_policy().version
        assert redecide.stale(session, load_policy()) == []

    def test_standings_are_decided_again_once_with_reasons_and_alerts(
        self, session: Session
    ) -> None:
        lists_loaded(session)
        policy = load_policy()
        over = customer(session, "over-counting-40-80-20")  # was 52%: denied
        news = customer(session, "news-story-holding-50-50")  # was 25%: reviewed
        same = customer(session, "faq401-4")  # review either way
        as_before_the_upgrade(session, over, "deny")
        as_before_the_upgrade(session, news, "review")
        as_before_the_upgrade(session, same, "review")
        assert redecide.stale(session, policy) == [over, news, same]

        report = redecide.redecide_stale(session, policy, 0.75, hold=HOLD, actor="test")
        assert report.decided == 3
        assert report.remaining == 0
        assert sorted(report.changed) == [
            ("Foxtrot Compute BV", "deny", "review"),
            ("Golf Vision Pte Ltd", "review", "deny"),
        ]
        standings = {s.organization_id: s for s in session.scalars(select(Standing))}
        assert (standings[over].decision, standings[news].decision) == ("review", "deny")
        assert "bis-affiliates-rule" in {r["rule"] for r in standings[news].reasons}
        alerts = {(a.organization_id, a.kind): a.message for a in session.scalars(select(Alert))}
        assert set(alerts) == {(over, "standing_changed"), (news, "customer_denied")}
        assert "from deny to review" in alerts[(over, "standing_changed")]
        assert OWNERSHIP_METHOD in alerts[(over, "standing_changed")]
        latest = service.decisions(session, over)[0]
        assert (latest.decision, latest.ownership_method) == ("review", OWNERSHIP_METHOD)

        again = redecide.redecide_stale(session, policy, 0.75, hold=HOLD, actor="test")
        assert (again.decided, again.changed) == (0, [])
        assert len(service.decisions(session, over)) == 2  # the old and the new, no more

    def test_the_worker_does_it_once(
        self, engine: Engine, session: Session, tmp_path: Path
    ) -> None:
        lists_loaded(session)
        over = customer(session, "over-counting-40-80-20")
        as_before_the_upgrade(session, over, "deny")
        worker = Worker(engine, Settings(data_dir=tmp_path / "data", database_url=str(engine.url)))
        worker.run_once()
        session.expire_all()
        assert session.get(Standing, over).decision == "review"  # type: ignore[union-attr]
        worker.run_once()
        assert len(service.decisions(session, over)) == 2

    def test_a_rescreen_alerts_a_changed_standing(self, session: Session) -> None:
        lists_loaded(session)
        over = customer(session, "over-counting-40-80-20")
        as_before_the_upgrade(session, over, "deny")
        report = monitoring.rescreen_all(session, load_policy(), 0.75, hold=HOLD, actor="test")
        assert report.changed == 1
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.kind == "standing_changed"
        assert "from deny to review" in alert.message
        assert redecide.stale(session, load_policy()) == []

    def test_migration_marks_earlier_decisions_with_the_multiplying_method(
        self, empty_db_url: str
    ) -> None:
        engine = make_engine(empty_db_url)
        try:
            migrate.upgrade(engine, "0008")
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO compliance_decisions (kind, subject, decision, reasons,"
                        " policy, as_of, at, actor) VALUES"
                        " ('screening', 'organization:1', 'deny', '[]', 'default 2026-11-29',"
                        " '2026-11-30', '2026-11-30 10:00:00+00:00', 'test'),"
                        " ('lease.create', 'lease:1', 'allow', '[]', 'operator''s own use',"
                        " '2026-11-30', '2026-11-30 10:00:00+00:00', 'test')"
                    )
                )
            migrate.upgrade(engine, "0009")
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT policy, ownership_method, policy_version"
                        " FROM compliance_decisions ORDER BY id"
                    )
                ).all()
            assert [tuple(r) for r in rows] == [
                ("default 2026-11-29", "multiplied-v1", None),
                ("operator's own use", None, None),
            ]
        finally:
            engine.dispose()


if __name__ == "__main__":
    write_fixtures()
