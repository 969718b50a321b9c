"""The real list files in $GPURENT_LISTS_DIR (read in place) and the labelled sets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gpurent.lists.service import read_bundled
from gpurent.screening import DEFAULT_THRESHOLD, ListEntry, Screener, analyze, compare, read_list


@pytest.mark.parametrize(
    ("path", "fmt", "entries", "links"),
    [
        ("moov-io_watchman/sdn.csv", "ofac-csv", 8976, 0),
        ("moov-io_watchman/cons_prim.csv", "ofac-csv", 442, 0),
        ("moov-io_watchman/csl.csv", "csl-csv", 115, 0),
        ("moov-io_watchman/consolidated.csv", "csl-csv", 13, 0),
        ("moov-io_watchman/dpl.txt", "bis-dpl", 486, 0),  # 581 rows, one per address
        ("govwizely_webservices/sdn.xml", "ofac-xml", 4, 0),
        ("govwizely_webservices/consolidated.xml", "ofac-xml", 16, 0),
        ("radwo_urban-fortnight/cons_advanced.xml", "ofac-advanced-xml", 375, 276),
    ],
)
def test_official_files_read_whole(
    lists_dir: Path, path: str, fmt: str, entries: int, links: int
) -> None:
    parsed = read_list(lists_dir / path)
    assert (parsed.format, len(parsed.entries), len(parsed.links)) == (fmt, entries, links)
    assert all(e.name and e.entry_id for e in parsed.entries)


def test_sdn_aliases_and_addresses_are_joined(lists_dir: Path) -> None:
    parsed = read_list(lists_dir / "moov-io_watchman" / "sdn.csv")
    assert sum(len(e.aliases) for e in parsed.entries) == 11910
    cuba = next(e for e in parsed.entries if e.entry_id == "306")
    assert "NATIONAL BANK OF CUBA" in cuba.aliases
    assert "CH" in cuba.countries


@pytest.fixture(scope="module")
def screener(lists_dir: Path) -> Screener:
    watchman = lists_dir / "moov-io_watchman"
    entries = (
        read_list(watchman / "sdn.csv").entries + read_list(watchman / "cons_prim.csv").entries
    )
    return Screener(entries + read_bundled().entries)


STORY = {
    "iFlytek": [
        "iFlytek Company Limited",
        "IFLYTEK CO., LTD.",
        "I-Flytek Co Ltd",
        "Ke Da Xun Fei",
        "科大讯飞股份有限公司",
    ],
    "Beijing SenseTime Technology Development Co., Ltd.": [
        "Beijing SenseTime Technology Development Company Limited",
        "北京市商汤科技开发有限公司",
    ],
    "SENSETIME GROUP LIMITED": ["SenseTime Group Ltd"],
    "Sugon": ["Sugon Information Industry Co Ltd", "中科曙光", "Zhongke Shuguang"],
    "INSPUR GROUP CO., LTD.": ["Inspur Group Company Limited"],
    "Inspur Group Co., Ltd.": ["浪潮集团有限公司", "Lang Chao Ji Tuan"],
    "Megvii Technology Ltd.": ["Megvii Technology Limited", "北京旷视科技有限公司"],
    "Moore Threads Intelligent Technology (Beijing) Co., Ltd.": ["Moore Threads", "摩尔线程"],
    "Shanghai Biren Intelligent Technology Co., Ltd.": [
        "Biren Technology",
        "上海壁仞智能科技有限公司",
    ],
    "HUAWEI TECHNOLOGIES CO., LTD.": ["Huawei Technologies Company Limited", "华为技术有限公司"],
}


@pytest.mark.parametrize(
    ("listed", "query"), [(listed, q) for listed, queries in STORY.items() for q in queries]
)
def test_the_story_companies_are_found(screener: Screener, listed: str, query: str) -> None:
    matches = [m for m in screener.screen(query) if m.is_match]
    assert listed in {m.entry.name for m in matches}, [(m.entry.name, m.score) for m in matches]


def test_generic_company_names_are_not_flagged(screener: Screener) -> None:
    for name in (
        "Technology Company Limited",
        "International Trading Group Co., Ltd.",
        "Beijing Technology Development Co., Ltd.",
        "Global Holdings Limited",
    ):
        assert not any(m.is_match for m in screener.screen(name)), name


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_cases_f1_meets_the_target(lists_dir: Path) -> None:
    rows = _rows(lists_dir / "_eval" / "cases.csv")
    predicted = [
        compare(analyze(r["name1"]), analyze(r["name2"])).score >= DEFAULT_THRESHOLD for r in rows
    ]
    truth = [r["is_match"] == "true" for r in rows]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.85


def test_synthetic_people_are_rarely_flagged(lists_dir: Path) -> None:
    watchman = lists_dir / "moov-io_watchman"
    sdn = Screener(
        read_list(watchman / "sdn.csv").entries + read_list(watchman / "cons_prim.csv").entries
    )
    people = [r["full_name"] for r in _rows(lists_dir / "_eval" / "negatives_us.csv")]
    flagged = [p for p in people if any(m.is_match for m in sdn.screen(p))]
    assert len(flagged) / len(people) < 0.01, flagged


def test_treated_un_names_find_their_entries(lists_dir: Path) -> None:
    untreated = [r["full_name"] for r in _rows(lists_dir / "_eval" / "positives_un_untreated.csv")]
    treated = [r["full_name"] for r in _rows(lists_dir / "_eval" / "positives_un_treated.csv")]
    screener = Screener(ListEntry("UN", str(i), name) for i, name in enumerate(untreated))
    found = sum(
        any(m.is_match and m.entry.entry_id == str(i) for m in screener.screen(name))
        for i, name in enumerate(treated)
    )
    assert found / len(treated) >= 0.98
