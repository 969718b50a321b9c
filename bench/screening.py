"""Name-screening evaluation on the labelled sets in $GPURENT_LISTS_DIR/_eval, beside a
plain rapidfuzz baseline run in the same command, and screening speed.

    .venv/bin/python -m bench.screening

Every labelled set that the weights were tuned on is split, by a fixed seed, into a
tuning part and a test part (`part()`: a digest of the seed and the row's key, so the
split does not depend on row order; pairs of cases.csv are split by their listed name, so
that variants of one name never straddle the parts). The figures of both parts are
printed side by side; only the tuning parts were looked at while tuning.

The real-company set (NASDAQ-listed names) is screened against the SDN and non-SDN
lists, the bundled Entity List excerpt and the CSL sample, as companies (the party type
a dossier gives), and once more without a type. A match is a false positive unless the
row's `listed` column names the entry.

The baseline is what a screener without name knowledge does: ASCII-fold, lower-case,
`rapidfuzz.fuzz.token_sort_ratio` against every list name, at the threshold that gives
it its best F1 on the tuning part of cases.csv.
"""

from __future__ import annotations

import csv
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from normality import ascii_text
from rapidfuzz import fuzz, process

from gpurent.lists.service import read_bundled
from gpurent.screening import (
    DEFAULT_THRESHOLD,
    ListEntry,
    PartyType,
    Screener,
    analyze,
    compare,
    read_list,
)
from gpurent.screening.compare import Rules, infer_rules
from gpurent.screening.screener import rules_for

SPEED_QUERIES = 1000
SPLIT_SEED = "gpurent-screening-11"
# A threshold screening tools often ship with; the baseline is shown at it as well.
USUAL_THRESHOLD = 0.85
# cases.csv schemas as the party types a dossier or a list would give.
SCHEMA_TYPES = {
    "Person": PartyType.INDIVIDUAL,
    "Company": PartyType.ENTITY,
    "Organization": PartyType.ENTITY,
    "Vessel": PartyType.VESSEL,
}
PARTS = ("tuning", "test")


def part(key: str) -> str:
    """The part a row belongs to: about half of every set is kept for the test."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{key}".encode()).digest()
    return "test" if digest[0] < 128 else "tuning"


def name_key(name: str) -> str:
    return name.strip().lower()


def _plain(name: str) -> str:
    return (ascii_text(name) or "").lower()


def baseline_score(a: str, b: str) -> float:
    return fuzz.token_sort_ratio(_plain(a), _plain(b)) / 100


@dataclass
class Quality:
    precision: float
    recall: float
    f1: float
    n: int


def quality(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> Quality:
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(precision, recall, f1, len(scores))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


class Baseline:
    """Brute-force rapidfuzz over every list name."""

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self.names = [_plain(n) for e in entries for n in e.names()]
        self.owners = [i for i, e in enumerate(entries) for _ in e.names()]

    def best(self, name: str) -> tuple[int, float] | None:
        found = process.extractOne(
            _plain(name), self.names, scorer=fuzz.token_sort_ratio, score_cutoff=0
        )
        if found is None:
            return None
        return self.owners[found[2]], found[1] / 100


def _rate(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def _timed(screen: Callable[[str], object], queries: Sequence[str]) -> dict[str, float]:
    times: list[float] = []
    for q in queries:
        start = time.perf_counter()
        screen(q)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50_ms": times[len(times) // 2],
        "p95_ms": times[int(len(times) * 0.95)],
        "per_s": 1000 / statistics.mean(times),
    }


def case_score(case: dict[str, str]) -> float:
    """A labelled pair scored as the screener would: the rules its party type gives."""
    query, listed = analyze(case["name1"]), analyze(case["name2"])
    kind = SCHEMA_TYPES.get(case["schema"])
    rules = rules_for(kind, kind or PartyType.UNKNOWN, bool(query.legal_forms))
    return compare(query, listed, rules or infer_rules(query, listed)).score


@dataclass
class Rates:
    """One measure on the tuning part, the test part, and the baseline's test part."""

    tuning: float
    test: float
    n_tuning: int
    n_test: int
    baseline_test: float | None = None


def _split_rate(
    keys: Sequence[str], hits: Sequence[bool], baseline: Sequence[bool] | None = None
) -> Rates:
    parts = [part(k) for k in keys]  # keys as given: callers fold names with name_key
    tuning = [h for h, p in zip(hits, parts, strict=True) if p == "tuning"]
    test = [h for h, p in zip(hits, parts, strict=True) if p == "test"]
    base = None
    if baseline is not None:
        base = _rate([h for h, p in zip(baseline, parts, strict=True) if p == "test"])
    return Rates(_rate(tuning), _rate(test), len(tuning), len(test), base)


def _cases(evaluation: Path) -> dict[str, object]:
    cases = _rows(evaluation / "cases.csv")
    parts = [part(name_key(c["name2"])) for c in cases]
    ours = [case_score(c) for c in cases]
    base = [baseline_score(c["name1"], c["name2"]) for c in cases]
    labels = [c["is_match"] == "true" for c in cases]

    def of(p: str, scores: list[float]) -> tuple[list[float], list[bool]]:
        kept = [i for i, x in enumerate(parts) if x == p]
        return [scores[i] for i in kept], [labels[i] for i in kept]

    base_tuning = of("tuning", base)
    base_threshold = max(
        (t / 100 for t in range(40, 100)), key=lambda t: quality(*base_tuning, t).f1
    )
    out: dict[str, object] = {"baseline_threshold": base_threshold, "cases_n": len(cases)}
    for p in PARTS:
        out[f"cases_{p}"] = quality(*of(p, ours), DEFAULT_THRESHOLD)
        out[f"cases_base_{p}"] = quality(*of(p, base), base_threshold)
    out["cases_usual_test"] = quality(*of("test", base), USUAL_THRESHOLD)
    return out


def _real_companies(
    evaluation: Path, screener: Screener, baseline: Baseline, base_threshold: float
) -> dict[str, object]:
    rows = _rows(evaluation / "real_companies_nasdaq.csv")
    names = [r["name"] for r in rows]
    listed = [r["listed"].strip() for r in rows]
    out: dict[str, object] = {}
    examples: list[str] = []
    for label, party_type in (("as_company", PartyType.ENTITY), ("no_type", None)):
        false_hits: list[bool] = []
        found_listed: list[bool] = []
        for name, entry_id in zip(names, listed, strict=True):
            hits = [m for m in screener.screen(name, party_type=party_type) if m.is_match]
            wrong = [m for m in hits if m.entry.entry_id != entry_id]
            false_hits.append(bool(wrong))
            if entry_id:
                found_listed.append(any(m.entry.entry_id == entry_id for m in hits))
            if wrong and party_type is not None and part(name_key(name)) == "test":
                top = wrong[0]
                examples.append(f"{name} ~ {top.matched_name} ({top.score:.2f})")
        out[f"real_{label}"] = _split_rate([name_key(n) for n in names], false_hits)
        out[f"real_{label}_listed"] = (sum(found_listed), len(found_listed))
    test_names = [n for n in names if part(name_key(n)) == "test"]
    base_hits = [(b := baseline.best(n)) is not None and b[1] >= base_threshold for n in test_names]
    usual_hits = [
        (b := baseline.best(n)) is not None and b[1] >= USUAL_THRESHOLD for n in test_names
    ]
    out["real_base"] = (_rate(base_hits), _rate(usual_hits))
    out["real_examples"] = examples
    return out


def run(lists_dir: Path) -> dict[str, object]:
    evaluation = lists_dir / "_eval"
    out = _cases(evaluation)
    out["threshold"] = DEFAULT_THRESHOLD
    base_threshold = float(out["baseline_threshold"])  # type: ignore[arg-type]

    watchman = lists_dir / "moov-io_watchman"
    entries = (
        read_list(watchman / "sdn.csv").entries + read_list(watchman / "cons_prim.csv").entries
    )
    full = entries + read_bundled().entries
    started = time.perf_counter()
    screener = Screener(full)
    out["build_s"] = time.perf_counter() - started
    out["names"] = screener.name_count
    baseline = Baseline(entries)
    screener_sdn = Screener(entries)
    for name in ("negatives_global", "negatives_us"):
        queries = [r["full_name"] for r in _rows(evaluation / f"{name}.csv")]
        ours_fp = [any(m.is_match for m in screener_sdn.screen(q)) for q in queries]
        best = [b[1] if (b := baseline.best(q)) else 0.0 for q in queries]
        out[name] = _split_rate(
            [name_key(q) for q in queries], ours_fp, [s >= base_threshold for s in best]
        )

    # Every listed entity's own names and aliases, screened as companies, find it.
    own = [(e.entry_id, n) for e in entries if e.party_type is PartyType.ENTITY for n in e.names()]
    out["own_names"] = (
        sum(
            any(
                m.is_match and m.entry.entry_id == entry_id
                for m in screener.screen(n, party_type=PartyType.ENTITY, limit=50)
            )
            for entry_id, n in own
        ),
        len(own),
    )
    with_csl = Screener(full + read_list(watchman / "csl.csv").entries)
    out.update(_real_companies(evaluation, with_csl, Baseline(full), base_threshold))

    treated = [r["full_name"] for r in _rows(evaluation / "positives_un_treated.csv")]
    untreated = [r["full_name"] for r in _rows(evaluation / "positives_un_untreated.csv")]
    people = [ListEntry("UN", str(i), n, PartyType.INDIVIDUAL) for i, n in enumerate(untreated)]
    un_screener = Screener(people)
    un_baseline = Baseline(people)
    ours_hits = [
        any(m.is_match and m.entry.entry_id == str(i) for m in un_screener.screen(q))
        for i, q in enumerate(treated)
    ]
    found = [un_baseline.best(q) for q in treated]
    out["un_recall"] = _split_rate(
        [name_key(n) for n in untreated],
        ours_hits,
        [b is not None and b[0] == i and b[1] >= base_threshold for i, b in enumerate(found)],
    )

    pairs = _rows_plain(evaluation / "cross_script_pairs.csv")
    # Every pair is a person's name.
    ours_pairs = [compare(analyze(q), analyze(e), Rules.PERSON).score for q, e, _ in pairs]
    base_pairs = [baseline_score(q, e) for q, e, _ in pairs]
    out["cross_script"] = _split_rate(
        [q for q, _, _ in pairs],  # keyed as written (case folding changes Cyrillic)
        [s >= DEFAULT_THRESHOLD for s in ours_pairs],
        [s >= base_threshold for s in base_pairs],
    )

    speed_queries = (treated + [r["full_name"] for r in _rows(evaluation / "negatives_us.csv")])[
        :SPEED_QUERIES
    ]
    out["speed_ours"] = _timed(screener.screen, speed_queries)
    out["speed_base"] = _timed(Baseline(full).best, speed_queries[:200])
    return out


def _rows_plain(path: Path) -> list[tuple[str, str, float]]:
    pairs = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                query, expected, minimum, *_ = line.rstrip("\n").split(",")
                pairs.append((query, expected, float(minimum)))
    return pairs


def _cases_rows(r: dict[str, object]) -> list[tuple[str, str, str, str]]:
    tuning, test = r["cases_tuning"], r["cases_test"]
    base, usual = r["cases_base_test"], r["cases_usual_test"]
    assert isinstance(tuning, Quality)
    assert isinstance(test, Quality)
    assert isinstance(base, Quality)
    assert isinstance(usual, Quality)
    return [
        (
            f"cases.csv precision (pairs: {tuning.n} tuning, {test.n} test)",
            f"{tuning.precision:.3f}",
            f"{test.precision:.3f}",
            f"{base.precision:.3f} / {usual.precision:.3f}",
        ),
        (
            "cases.csv recall",
            f"{tuning.recall:.3f}",
            f"{test.recall:.3f}",
            f"{base.recall:.3f} / {usual.recall:.3f}",
        ),
        (
            "cases.csv F1 (target on the test part >= 0.88)",
            f"{tuning.f1:.3f}",
            f"{test.f1:.3f}",
            f"{base.f1:.3f} / {usual.f1:.3f}",
        ),
    ]


def _rates_row(label: str, rates: object, percent: bool = True) -> tuple[str, str, str, str]:
    assert isinstance(rates, Rates)
    fmt = "{:.2%}" if percent else "{:.3f}"
    base = "" if rates.baseline_test is None else fmt.format(rates.baseline_test)
    return (
        f"{label} ({rates.n_tuning} / {rates.n_test})",
        fmt.format(rates.tuning),
        fmt.format(rates.test),
        base,
    )


def report(r: dict[str, object]) -> None:
    print(
        f"gpurent at its default threshold {r['threshold']}; rapidfuzz baseline at "
        f"{r['baseline_threshold']:.2f} (its best F1 on the tuning part of cases.csv)"
        f" / {USUAL_THRESHOLD}; parts split by seed {SPLIT_SEED!r}"
    )
    rows = _cases_rows(r)
    for name in ("negatives_global", "negatives_us"):
        rows.append(_rates_row(f"{name}.csv false positives (< 1%)", r[name]))
    rows.append(
        _rates_row(
            "real companies, screened as companies: false positives (<= 0.5%)", r["real_as_company"]
        )
    )
    rows.append(
        _rates_row("real companies, screened without a type: false positives", r["real_no_type"])
    )
    rows.append(_rates_row("positives_un_treated recall (>= 98%)", r["un_recall"]))
    rows.append(
        _rates_row("cross_script_pairs matched at the threshold (>= 75%)", r["cross_script"])
    )
    print(f"{'measure (rows tuning / test)':<78} {'tuning':>8} {'test':>8}  baseline (test)")
    for label, tuning, test, base in rows:
        print(f"{label:<78} {tuning:>8} {test:>8}  {base}")
    real_base = r["real_base"]
    assert isinstance(real_base, tuple)
    base_fp, usual_fp = real_base
    print(
        f"  baseline on the real companies' test part: {base_fp:.2%} at "
        f"{r['baseline_threshold']:.2f}, {usual_fp:.2%} at {USUAL_THRESHOLD}"
    )
    found_listed = r["real_as_company_listed"]
    assert isinstance(found_listed, tuple)
    found, listed = found_listed
    print(
        f"  real companies marked listed: {listed}, found {found}"
        + (" (the file marks none)" if not listed else "")
    )
    own = r["own_names"]
    assert isinstance(own, tuple)
    print(
        f"  SDN and non-SDN entities' own names and aliases screened as companies: "
        f"{own[0]} of {own[1]} match their entry"
    )
    examples = r["real_examples"]
    assert isinstance(examples, list)
    for example in examples:
        print(f"  false positive (test part): {example}")
    so, sb = r["speed_ours"], r["speed_base"]
    assert isinstance(so, dict)
    assert isinstance(sb, dict)
    print(
        f"speed against {r['names']} names and aliases (SDN + non-SDN + bundled excerpt), "
        f"one thread; index built in {r['build_s']:.1f} s:"
    )
    print(
        f"  gpurent p50 {so['p50_ms']:.2f} ms, p95 {so['p95_ms']:.2f} ms, "
        f"{so['per_s']:.0f} screenings/s (target p50 <= 5, p95 <= 25, >= 200/s)"
    )
    print(
        f"  baseline (brute force) p50 {sb['p50_ms']:.2f} ms, p95 {sb['p95_ms']:.2f} ms, "
        f"{sb['per_s']:.0f}/s; gpurent {so['per_s'] / sb['per_s']:.1f}x the baseline's rate"
    )
    print("ofac_fixtures.csv: not scored (gpurent does not produce an OFAC-style score)")


def main() -> None:
    value = os.environ.get("GPURENT_LISTS_DIR")
    if not value:
        sys.exit("GPURENT_LISTS_DIR is not set: point it at the shared list files")
    report(run(Path(value)))


if __name__ == "__main__":
    main()
