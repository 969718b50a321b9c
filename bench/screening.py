"""Name-screening evaluation on the labelled sets in $GPURENT_LISTS_DIR/_eval, beside a
plain rapidfuzz baseline run in the same command, and screening speed.

    .venv/bin/python -m bench.screening

The baseline is what a screener without name knowledge does: ASCII-fold, lower-case,
`rapidfuzz.fuzz.token_sort_ratio` against every list name, at the threshold that gives
it its best F1 on cases.csv (chosen in hindsight, in its favour).
"""

from __future__ import annotations

import csv
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
from gpurent.screening import DEFAULT_THRESHOLD, ListEntry, Screener, analyze, compare, read_list

SPEED_QUERIES = 1000
# A threshold screening tools often ship with; the baseline is shown at it as well.
USUAL_THRESHOLD = 0.85


def _plain(name: str) -> str:
    return (ascii_text(name) or "").lower()


def baseline_score(a: str, b: str) -> float:
    return fuzz.token_sort_ratio(_plain(a), _plain(b)) / 100


@dataclass
class Quality:
    precision: float
    recall: float
    f1: float


def quality(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> Quality:
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(precision, recall, f1)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


class Baseline:
    """Brute-force rapidfuzz over every list name."""

    def __init__(self, entries: Sequence[ListEntry], threshold: float) -> None:
        self.threshold = threshold
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


def run(lists_dir: Path) -> dict[str, object]:
    evaluation = lists_dir / "_eval"
    cases = _rows(evaluation / "cases.csv")
    labels = [c["is_match"] == "true" for c in cases]
    ours = [compare(analyze(c["name1"]), analyze(c["name2"])).score for c in cases]
    base = [baseline_score(c["name1"], c["name2"]) for c in cases]
    base_threshold = max(
        (t / 100 for t in range(40, 100)), key=lambda t: quality(base, labels, t).f1
    )
    out: dict[str, object] = {
        "threshold": DEFAULT_THRESHOLD,
        "baseline_threshold": base_threshold,
        "cases_ours": quality(ours, labels, DEFAULT_THRESHOLD),
        "cases_base": quality(base, labels, base_threshold),
        "cases_usual": quality(base, labels, USUAL_THRESHOLD),
        "cases_n": len(cases),
    }

    watchman = lists_dir / "moov-io_watchman"
    entries = (
        read_list(watchman / "sdn.csv").entries + read_list(watchman / "cons_prim.csv").entries
    )
    full = entries + read_bundled().entries
    started = time.perf_counter()
    screener = Screener(full)
    out["build_s"] = time.perf_counter() - started
    out["names"] = screener.name_count
    baseline = Baseline(entries, base_threshold)
    screener_sdn = Screener(entries)
    for name in ("negatives_global", "negatives_us"):
        queries = [r["full_name"] for r in _rows(evaluation / f"{name}.csv")]
        ours_fp = [any(m.is_match for m in screener_sdn.screen(q)) for q in queries]
        best = [b[1] if (b := baseline.best(q)) else 0.0 for q in queries]
        out[name] = (
            _rate(ours_fp),
            _rate([s >= base_threshold for s in best]),
            _rate([s >= USUAL_THRESHOLD for s in best]),
            len(queries),
        )

    treated = [r["full_name"] for r in _rows(evaluation / "positives_un_treated.csv")]
    untreated = [r["full_name"] for r in _rows(evaluation / "positives_un_untreated.csv")]
    people = [ListEntry("UN", str(i), n) for i, n in enumerate(untreated)]
    un_screener = Screener(people)
    un_baseline = Baseline(people, base_threshold)
    ours_hits = [
        any(m.is_match and m.entry.entry_id == str(i) for m in un_screener.screen(q))
        for i, q in enumerate(treated)
    ]
    found = [un_baseline.best(q) for q in treated]
    out["un_recall"] = (
        _rate(ours_hits),
        _rate(
            [b is not None and b[0] == i and b[1] >= base_threshold for i, b in enumerate(found)]
        ),
        _rate(
            [b is not None and b[0] == i and b[1] >= USUAL_THRESHOLD for i, b in enumerate(found)]
        ),
        len(treated),
    )

    pairs = _rows_plain(evaluation / "cross_script_pairs.csv")
    ours_pairs = [compare(analyze(q), analyze(e)).score for q, e, _ in pairs]
    base_pairs = [baseline_score(q, e) for q, e, _ in pairs]
    minimum = [m for _, _, m in pairs]
    out["cross_script"] = (
        _rate([s >= DEFAULT_THRESHOLD for s in ours_pairs]),
        _rate([s >= base_threshold for s in base_pairs]),
        _rate([s >= USUAL_THRESHOLD for s in base_pairs]),
        len(pairs),
    )
    out["cross_script_minimum"] = (
        _rate([s >= m for s, m in zip(ours_pairs, minimum, strict=True)]),
        _rate([s >= m for s, m in zip(base_pairs, minimum, strict=True)]),
        _rate([s >= m for s, m in zip(base_pairs, minimum, strict=True)]),
    )

    speed_queries = (treated + [r["full_name"] for r in _rows(evaluation / "negatives_us.csv")])[
        :SPEED_QUERIES
    ]
    out["speed_ours"] = _timed(screener.screen, speed_queries)
    full_baseline = Baseline(full, base_threshold)
    out["speed_base"] = _timed(full_baseline.best, speed_queries[:200])
    return out


def _rows_plain(path: Path) -> list[tuple[str, str, float]]:
    pairs = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                query, expected, minimum, *_ = line.rstrip("\n").split(",")
                pairs.append((query, expected, float(minimum)))
    return pairs


def report(r: dict[str, object]) -> None:
    ours, base, usual = r["cases_ours"], r["cases_base"], r["cases_usual"]
    assert isinstance(ours, Quality)
    assert isinstance(base, Quality)
    assert isinstance(usual, Quality)
    print(
        f"gpurent at its default threshold {r['threshold']}; rapidfuzz baseline at "
        f"{r['baseline_threshold']:.2f} (its best F1 on cases.csv) and at {USUAL_THRESHOLD}"
    )
    header = f"{'measure':<62} {'gpurent':>8} {'base@best':>9} {'base@0.85':>9}"
    print(header)
    rows: list[tuple[str, float, float, float]] = [
        (
            f"cases.csv precision ({r['cases_n']} pairs)",
            ours.precision,
            base.precision,
            usual.precision,
        ),
        ("cases.csv recall", ours.recall, base.recall, usual.recall),
        ("cases.csv F1 (target >= 0.85)", ours.f1, base.f1, usual.f1),
    ]
    for name in ("negatives_global", "negatives_us"):
        o, b, u, n = r[name]  # type: ignore[misc]
        rows.append((f"{name}.csv false positives ({n} vs SDN+non-SDN; < 0.01)", o, b, u))
    o, b, u, n = r["un_recall"]  # type: ignore[misc]
    rows.append((f"positives_un_treated recall ({n}; target >= 0.98)", o, b, u))
    o, b, u, n = r["cross_script"]  # type: ignore[misc]
    rows.append((f"cross_script_pairs matched at threshold ({n})", o, b, u))
    o, b, u = r["cross_script_minimum"]  # type: ignore[misc]
    rows.append(("cross_script_pairs reaching their listed minimum score", o, b, u))
    for label, o, b, u in rows:
        print(f"{label:<62} {o:>8.3f} {b:>9.3f} {u:>9.3f}")
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
