"""The ``gpurent`` command, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import fleet_yaml, write

GPURENT = str(Path(sys.executable).parent / "gpurent")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [GPURENT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


class TestCatalog:
    def test_show_prints_the_arithmetic(self) -> None:
        out = ok("catalog", "show", "A100-80GB")
        assert "INT8: 624 x 8 bits = 4992" in out
        assert "PD = TPP / die area = 4992 / 826 mm^2 = 6.044" in out
        assert "Classification: 3A090.a (3A090.a.1, 3A090.a.2)" in out

    def test_list_json(self) -> None:
        models = {m["name"]: m for m in json.loads(ok("catalog", "list", "--json"))}
        assert models["H20"]["classification"] == "not controlled"
        assert models["A30"]["classification_paragraphs"] == ["3A090.b.1"]

    def test_unknown_model_is_one_clear_line(self) -> None:
        result = run("catalog", "show", "Z9")
        assert result.returncode == 1
        assert result.stderr.strip() == "error: unknown GPU model 'Z9'"


class TestFleet:
    def test_import_twice_then_zero_changes(self, tmp_path: Path, db_url: str) -> None:
        env = {"GPURENT_DATABASE_URL": db_url}
        path = write(tmp_path / "fleet.yaml", fleet_yaml(nodes=3))
        assert f"{path}: 28 change(s) applied" in ok("fleet", "import", str(path), env=env)
        assert f"{path}: 0 change(s) applied" in ok("fleet", "import", str(path), env=env)
        nodes = json.loads(ok("fleet", "list", "--json", env=env))
        assert [n["name"] for n in nodes] == ["node-00", "node-01", "node-02"]

    def test_bad_file_exits_non_zero_without_traceback(self, tmp_path: Path) -> None:
        text = fleet_yaml(nodes=5).replace(
            "model: A100-80GB, serial: S-04-7", "model: X, serial: S-04-7"
        )
        path = write(tmp_path / "bad.yaml", text)
        result = run("fleet", "import", str(path))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[0] == f"error: {path}: 1 problem(s):"
        assert "facilities[0].nodes[4].gpus[7].model: unknown GPU model 'X'" in result.stderr
        assert json.loads(ok("fleet", "list", "--json")) == []

    def test_missing_file(self, tmp_path: Path) -> None:
        result = run("fleet", "import", str(tmp_path / "nope.yaml"))
        assert result.returncode == 1
        assert "cannot read" in result.stderr
        assert "Traceback" not in result.stderr

    def test_dry_run(self, tmp_path: Path) -> None:
        path = write(tmp_path / "fleet.yaml", fleet_yaml(nodes=1))
        report = json.loads(ok("fleet", "import", str(path), "--dry-run", "--json"))
        assert report["dry_run"] is True
        assert report["total"] == 10
        assert json.loads(ok("fleet", "list", "--gpus", "--json")) == []

    def test_show_and_set_state(self, tmp_path: Path) -> None:
        ok("fleet", "import", str(write(tmp_path / "f.yaml", fleet_yaml(nodes=1))))
        out = ok("fleet", "set-state", "node-00/1", "maintenance", "--reason", "reseat cable")
        assert "node-00/1 is now maintenance" in out
        gpu = json.loads(ok("fleet", "show", "node-00/1", "--json"))
        assert gpu["state"] == "maintenance"
        assert gpu["events"][-1]["reason"] == "reseat cable"
        assert gpu["events"][-1]["actor"].startswith("cli:")
        node = json.loads(ok("fleet", "show", "node-00", "--json"))
        assert len(node["gpus"]) == 8
        assert "us-test-1" in ok("fleet", "show", "us-test-1")
        listed = json.loads(ok("fleet", "list", "--gpus", "--state", "maintenance", "--json"))
        assert [g["address"] for g in listed] == ["node-00/1"]

    def test_forbidden_transition_is_one_line(self, tmp_path: Path) -> None:
        ok("fleet", "import", str(write(tmp_path / "f.yaml", fleet_yaml(nodes=1))))
        ok("fleet", "set-state", "node-00/2", "retired", "-r", "eol")
        result = run("fleet", "set-state", "node-00/2", "available", "-r", "oops")
        assert result.returncode == 1
        assert result.stderr.startswith("error: GPU node-00/2 cannot go from retired")

    def test_unknown_thing(self) -> None:
        result = run("fleet", "show", "nothing")
        assert result.returncode == 1
        assert result.stderr.startswith("error: no GPU 'nothing'")


class TestDatabase:
    def test_db_upgrade(self, empty_db_url: str) -> None:
        out = ok("db", "upgrade", env={"GPURENT_DATABASE_URL": empty_db_url})
        assert "is up to date" in out

    @pytest.mark.parametrize(
        "url", ["postgresql+psycopg://nobody@127.0.0.1:1/none", "sqlite:////nonexistent/dir/x.db"]
    )
    def test_unreachable_database_is_one_line(self, url: str) -> None:
        result = run("catalog", "list", env={"GPURENT_DATABASE_URL": url})
        assert result.returncode == 1
        assert result.stderr.startswith("error: database unavailable")
        assert "Traceback" not in result.stderr


class TestLeasing:
    def test_quote_offers_and_lease_lifecycle(self, tmp_path: Path) -> None:
        from tests.builders import priced_fleet

        ok("fleet", "import", str(write(tmp_path / "f.yaml", priced_fleet(nodes=2))))
        quote = json.loads(ok("quote", "A100-80GB", "8", "--hours", "1", "--json"))
        assert quote["total"] == "10.00"
        offers = json.loads(ok("offers", "--json"))
        assert {o["gpu_model"] for o in offers} == {"A100-80GB", "H20"}
        lease = json.loads(ok("lease", "create", "A100-80GB", "4", "--hours", "2", "--json"))
        assert lease["status"] == "active"
        extended = json.loads(ok("lease", "extend", str(lease["id"]), "--hours", "1", "--json"))
        assert extended["end"] > lease["end"]
        windows = json.loads(ok("availability", "A100-80GB", "8", "--hours", "1", "--json"))
        assert windows[0]["facility"] == "us-test-1"
        released = json.loads(ok("lease", "release", str(lease["id"]), "--json"))
        assert released["status"] == "ended"
        listed = json.loads(ok("lease", "list", "--json"))
        assert [x["id"] for x in listed] == [lease["id"]]
        shown = json.loads(ok("lease", "show", str(lease["id"]), "--json"))
        assert [e["kind"] for e in shown["events"]] == ["created", "extended", "ended"]

    def test_bad_lease_is_one_line(self, tmp_path: Path) -> None:
        from tests.builders import priced_fleet

        ok("fleet", "import", str(write(tmp_path / "f.yaml", priced_fleet(nodes=1))))
        result = run("lease", "create", "A100-80GB", "2", "--start", "2020-01-01")
        assert result.returncode == 1
        assert result.stderr.strip() == "error: the window starts in the past"
        too_many = run("lease", "create", "A100-80GB", "9", "--hours", "1")
        assert too_many.stderr.startswith("error: no facility has 9 GPUs of A100-80GB")
