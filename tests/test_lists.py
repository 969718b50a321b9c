"""List versions in the database, screening through the API and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpurent.config import Settings
from gpurent.errors import FileFormatError
from gpurent.lists import service
from gpurent.lists.models import ListVersion
from tests.test_cli import ok, run

FIXTURES = Path(__file__).parent / "fixtures" / "lists"
THRESHOLD = Settings().screening_threshold


def load(session: Session, *paths: Path) -> list[ListVersion]:
    session.rollback()  # end the test's reads: the service starts its own transaction
    return service.import_lists(session, service.read_files(list(paths)), "test")


class TestVersions:
    def test_import_makes_one_version_per_list_current(self, session: Session) -> None:
        versions = load(session, FIXTURES / "ofac_csv", FIXTURES / "dpl" / "dpl.txt")
        assert [(v.dataset, v.entry_count) for v in versions] == [("ofac-sdn", 4), ("bis-dpl", 2)]
        assert {v.dataset for v in service.current_versions(session)} == {"ofac-sdn", "bis-dpl"}

    def test_reimport_supersedes_and_screening_follows(self, session: Session) -> None:
        (first,) = load(session, FIXTURES / "ofac_csv")
        assert service.screen_name(session, THRESHOLD, "Example Holding Company")[0].is_match
        (second,) = load(session, FIXTURES / "ofac_xml" / "sdn.xml")
        assert second.dataset == first.dataset == "ofac-sdn"
        current = service.current_versions(session)
        assert [v.id for v in current] == [second.id]
        session.refresh(first)
        assert first.superseded_at is not None
        assert not any(
            m.is_match for m in service.screen_name(session, THRESHOLD, "Example Holding Company")
        )
        assert service.screen_name(session, THRESHOLD, "National Example Bank")[0].is_match

    def test_malformed_file_leaves_the_version_in_force(
        self, session: Session, tmp_path: Path
    ) -> None:
        (good,) = load(session, FIXTURES / "ofac_csv")
        broken = tmp_path / "ofac_csv"
        shutil.copytree(FIXTURES / "ofac_csv", broken)
        data = (broken / "sdn.csv").read_bytes()
        (broken / "sdn.csv").write_bytes(data[: len(data) // 2])
        with pytest.raises(FileFormatError) as caught:
            load(session, FIXTURES / "dpl" / "dpl.txt", broken)
        assert "sdn.csv" in caught.value.items[0].msg
        # Neither list of the failed import was stored: the DPL in it neither.
        assert [v.id for v in service.current_versions(session)] == [good.id]
        assert service.screen_name(session, THRESHOLD, "Example Holding Company")[0].is_match

    def test_only_one_version_of_a_list_is_in_force(self, session: Session) -> None:
        load(session, FIXTURES / "ofac_csv")
        (version,) = service.current_versions(session)
        session.add(
            ListVersion(
                dataset=version.dataset,
                title="x",
                format="x",
                files=[],
                sha256="0" * 64,
                entry_count=0,
                link_count=0,
                imported_by="test",
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()

    def test_ownership_links_of_the_lists_in_force(self, session: Session) -> None:
        load(session, FIXTURES / "ofac_advanced")
        links = service.ownership_links(session)
        assert [(link.owned_id, link.owner_id) for link in links] == [("302", "301")]

    def test_versions_record_what_was_imported(self, session: Session) -> None:
        (version,) = load(session, FIXTURES / "ofac_csv")
        stored = session.scalars(select(ListVersion)).one()
        assert stored.files == ["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"]
        assert len(stored.sha256) == 64
        assert stored.imported_by == "test"
        assert version.id == stored.id


class TestApi:
    def test_screening_without_lists_is_refused(self, client: TestClient) -> None:
        response = client.post("/v1/screenings", json={"name": "iFlytek"})
        assert response.status_code == 409
        assert response.json()["detail"][0]["code"] == "no_lists"

    def test_screen_and_batch(self, client: TestClient, session: Session) -> None:
        service.import_lists(session, [service.read_bundled()], "test")
        response = client.post(
            "/v1/screenings", json={"name": "科大讯飞股份有限公司", "country": "cn"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["country"] == "CN"
        top = body["matches"][0]
        assert (top["list"], top["entry_id"], top["is_match"]) == (
            "Entity List (EL)",
            "excerpt-iflytek",
            True,
        )
        assert top["citation"] == "84 FR 54002"
        assert top["explanation"]["pairs"]

        names = ["Moore Threads", "Jane Smith Bakery", "Zhipu AI"]
        batch = client.post(
            "/v1/screenings/batch", json={"queries": [{"name": n} for n in names]}
        ).json()
        assert [r["query"] for r in batch["results"]] == names
        assert [bool(r["matches"] and r["matches"][0]["is_match"]) for r in batch["results"]] == [
            True,
            False,
            True,
        ]

    def test_bad_requests_say_what(self, client: TestClient) -> None:
        response = client.post("/v1/screenings", json={"name": "x", "country": "ZZ"})
        assert response.status_code == 422
        assert "ISO 3166" in response.text
        assert client.post("/v1/screenings", json={"name": ""}).status_code == 422
        assert client.post("/v1/screenings/batch", json={"queries": []}).status_code == 422

    def test_lists_endpoint(self, client: TestClient, session: Session) -> None:
        service.import_lists(session, [service.read_bundled()], "test")
        (version,) = client.get("/v1/lists").json()
        assert version["dataset"] == "bis-entity-list-excerpt"
        assert version["current"] is True


class TestCli:
    def test_import_screen_and_show(self, tmp_path: Path) -> None:
        ok("lists", "import", "--bundled", str(FIXTURES / "ofac_csv"))
        shown = json.loads(ok("lists", "show", "--json"))
        assert {v["dataset"] for v in shown} == {"bis-entity-list-excerpt", "ofac-sdn"}

        out = ok("screen", "IFLYTEK CO., LTD.", "--json")
        (result,) = [json.loads(line) for line in out.splitlines()]
        assert result["query"] == "IFLYTEK CO., LTD."
        top = result["matches"][0]
        assert set(top) >= {"list", "entry_id", "name", "matched_name", "score", "is_match"}
        assert (top["entry_id"], top["is_match"]) == ("excerpt-iflytek", True)

        batch = tmp_path / "names.csv"
        batch.write_text("name,country\nJane Smith Bakery,US\nHuawei Test Technologies,CN\n")
        lines = ok("screen", "--batch", str(batch), "--json").splitlines()
        results = [json.loads(line) for line in lines]
        assert [r["query"] for r in results] == ["Jane Smith Bakery", "Huawei Test Technologies"]
        assert results[0]["matches"] == [] or not results[0]["matches"][0]["is_match"]
        assert results[1]["matches"][0]["entry_id"] == "104"
        scores = [m["score"] for m in results[1]["matches"]]
        assert scores == sorted(scores, reverse=True)

        table = ok("screen", "Ke Da Xun Fei")
        assert "MATCH" in table
        assert "iFlytek" in table

    def test_malformed_import_fails_and_keeps_the_version(self, tmp_path: Path) -> None:
        ok("lists", "import", str(FIXTURES / "csl" / "legacy.csv"))
        before = json.loads(ok("lists", "show", "--json"))
        broken = tmp_path / "legacy.csv"
        data = (FIXTURES / "csl" / "legacy.csv").read_text().replace("ALI, Example", "")
        broken.write_text(data)
        result = run("lists", "import", str(broken))
        assert result.returncode != 0
        assert "legacy.csv:3: entry has no name" in result.stderr
        assert json.loads(ok("lists", "show", "--json")) == before

    def test_batch_file_errors_name_the_line(self, tmp_path: Path) -> None:
        ok("lists", "import", "--bundled")
        batch = tmp_path / "names.csv"
        batch.write_text("name,country\nAcme,US\nBeta,XX\n")
        result = run("screen", "--batch", str(batch))
        assert result.returncode != 0
        assert "names.csv:3" in result.stderr
