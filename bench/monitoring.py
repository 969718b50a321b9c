"""Continuous monitoring: rescreen 10,000 customers after a list import.

    .venv/bin/python -m bench.monitoring [CUSTOMERS]

Target (know-your-customer issue): 10,000 customers in under a minute. The baseline run
in the same command is the screening alone (every name of every record through the
screener, nothing recorded), so the ratio shows what the policy, ownership, red flags and
the recorded decisions add.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from gpurent.accounts.models import Organization
from gpurent.bootstrap import prepare_database
from gpurent.compliance import monitoring
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.models import DossierRecord
from gpurent.compliance.policy import load_policy
from gpurent.db.engine import make_engine, make_session_factory
from gpurent.lists import service as lists
from gpurent.lists.models import ListEntryRow
from gpurent.screening import ListEntry, ParsedList
from gpurent.screening.entries import entry_from_dict

WORDS = [
    "blue",
    "river",
    "north",
    "star",
    "harbor",
    "cedar",
    "maple",
    "granite",
    "silver",
    "falcon",
    "summit",
    "orchard",
    "lumen",
    "vector",
    "quartz",
    "delta",
    "aurora",
    "beacon",
    "crescent",
    "ember",
    "fjord",
    "glacier",
    "horizon",
]
KINDS = [
    "analytics",
    "robotics",
    "compute",
    "vision",
    "labs",
    "systems",
    "bio",
    "energy",
    "media",
    "logistics",
]
VESSELS = [
    "Zagros",
    "Kharg",
    "Tabriz",
    "Sahand",
    "Alborz",
    "Damavand",
    "Arvand",
    "Qeshm",
    "Kish",
    "Hormoz",
]
FORMS = ["Ltd", "GmbH", "Inc.", "Pte. Ltd.", "S.A.", "B.V.", "Oy", "AB"]
COUNTRIES = ["US", "DE", "GB", "FR", "SG", "JP", "NL", "SE", "CA", "AU", "IN", "BR"]
FIRST = [
    "anna",
    "james",
    "li",
    "wei",
    "maria",
    "jose",
    "olga",
    "ivan",
    "sara",
    "ahmed",
    "yuki",
    "lars",
]
LAST = [
    "smith",
    "muller",
    "chen",
    "garcia",
    "ivanova",
    "khan",
    "tanaka",
    "nilsson",
    "rossi",
    "dubois",
]


def customer(rng: random.Random, n: int) -> tuple[str, dict[str, object]]:
    name = (
        f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} "
        f"{rng.choice(KINDS).title()} {n} {rng.choice(FORMS)}"
    )
    country = rng.choice(COUNTRIES)
    owners = [
        {
            "name": f"{rng.choice(FIRST).title()} {rng.choice('ABCDEFGHJKLMNPRSTW')}. "
            f"{rng.choice(LAST).title()}",
            "country": country,
            "percent": 60,
        },
        {"name": f"{rng.choice(WORDS).title()} Capital {n}", "country": country, "percent": 40},
    ]
    record = {
        "legal_name": name,
        "incorporation_country": country,
        "headquarters_country": country,
        "addresses": [
            {
                "street": f"{n} {rng.choice(WORDS).title()} Street",
                "city": "Metro",
                "country": country,
            }
        ],
        "owners": owners,
        "emails": [f"ops@customer{n}.example"],
    }
    return name, Dossier.model_validate(record).model_dump(mode="json")


def run(customers: int, lists_dir: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(f"sqlite:///{workdir}/monitoring.db")
        prepare_database(engine)
        factory = make_session_factory(engine)
        rng = random.Random(7)
        with factory() as session:
            parsed = [lists.read_bundled()]
            if lists_dir is not None:
                watchman = lists_dir / "moov-io_watchman"
                parsed += lists.read_files([watchman / "sdn.csv", watchman / "cons_prim.csv"])
            lists.import_lists(session, parsed, "bench")
            rows = [customer(rng, n) for n in range(customers)]
            session.execute(
                insert(Organization),
                [
                    {"id": n + 1, "name": name, "kind": "customer"}
                    for n, (name, _) in enumerate(rows)
                ],
            )
            session.execute(
                insert(DossierRecord),
                [
                    {"organization_id": n + 1, "data": data, "updated_by": "bench"}
                    for n, (_, data) in enumerate(rows)
                ],
            )
            session.commit()
            screener = lists.screener(session, 0.75)
            began = time.perf_counter()
            for _, data in rows:
                record = Dossier.model_validate(data)
                for name in [record.legal_name, *(o.name for o in record.owners)]:
                    screener.screen(name, record.headquarters_country)
            screening_only = time.perf_counter() - began
            began = time.perf_counter()
            full = monitoring.rescreen_all(
                session, load_policy(), 0.75, hold=timedelta(hours=48), actor="bench"
            )
            full_s = time.perf_counter() - began
            # A new version of the SDN list: 50 entries added, 10 renamed, 10 removed.
            versions = _new_sdn_version(session, rng)
            began = time.perf_counter()
            changed = lists.changes(session, versions)
            after_import = monitoring.rescreen_all(
                session,
                load_policy(),
                0.75,
                hold=timedelta(hours=48),
                actor="bench",
                changed=changed,
            )
            import_s = time.perf_counter() - began
        engine.dispose()
    return {
        "customers": full.screened,
        "full_s": full_s,
        "screening_only_s": screening_only,
        "import_s": import_s,
        "changed_entries": len(changed[0]) + len(changed[1]),
        "re_decided": after_import.screened - after_import.unaffected,
    }


def _new_sdn_version(session: Any, rng: random.Random) -> list[Any]:
    current = {v.dataset: v for v in lists.current_versions(session)}
    version = current.get("ofac-sdn") or current["bis-entity-list-excerpt"]
    rows = session.scalars(select(ListEntryRow.data).where(ListEntryRow.version_id == version.id))
    entries = [entry_from_dict(r) for r in rows]
    rng.shuffle(entries)
    kept = entries[10:]
    renamed = [replace(e, name=e.name + " TRADING") for e in kept[:10]]
    added = [
        ListEntry("OFAC SDN", f"new-{n}", f"{rng.choice(VESSELS)} {rng.choice(VESSELS)} Marine {n}")
        for n in range(50)
    ]
    parsed = ParsedList(version.dataset, version.title, version.format)
    parsed.entries = renamed + kept[10:] + added
    session.rollback()
    return lists.import_lists(session, [parsed], "bench")


def report(r: dict[str, float]) -> None:
    print(
        f"after a list import changing {r['changed_entries']:.0f} entries: rescreened "
        f"{r['customers']:.0f} customers in {r['import_s']:.1f} s (target: 10,000 in under "
        f"60 s), {r['re_decided']:.0f} re-decided in full"
    )
    print(
        f"full rescreen (policy or first list changed): {r['full_s']:.1f} s, "
        f"{r['customers'] / r['full_s']:.0f}/s; baseline, screening every name of every "
        f"record alone: {r['screening_only_s']:.1f} s "
        f"(ratio {r['full_s'] / r['screening_only_s']:.1f}x)"
    )


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    value = os.environ.get("GPURENT_LISTS_DIR")
    report(run(customers, Path(value) if value else None))


if __name__ == "__main__":
    main()
