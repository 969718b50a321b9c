"""The command line in remote mode: a renter on "another machine" (its own data and
config directories, no access to the server's files) logs in and runs the renter tour;
the output fits 80 columns; local-only commands say so."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.remote import RENTER, DemoServer, demo
from tests.test_cli import GPURENT

__all__ = ["demo"]  # the fixture, imported for this module's tests

TIME = re.compile(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z")


def gpurent(
    *args: str, env: dict[str, str], columns: int = 200
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GPURENT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "COLUMNS": str(columns)},
        check=False,
    )


def ok(*args: str, env: dict[str, str], columns: int = 200) -> str:
    result = gpurent(*args, env=env, columns=columns)
    assert result.returncode == 0, result.stderr
    return result.stdout


def elsewhere(tmp_path: Path, name: str) -> dict[str, str]:
    """The environment of a laptop: its own directories, nothing of the server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPURENT_")}
    env["GPURENT_DATA_DIR"] = str(tmp_path / name / "data")
    env["GPURENT_CONFIG_DIR"] = str(tmp_path / name / "config")
    return env


def logged_in(demo: DemoServer, tmp_path: Path, name: str, token: str) -> dict[str, str]:
    env = elsewhere(tmp_path, name)
    ok("login", demo.url, "--token", token, "--name", "demo", env=env)
    return env


class TestLogin:
    def test_a_profile_is_stored_privately_and_its_token_never_shown(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = elsewhere(tmp_path, "laptop")
        out = ok("login", demo.url, "--token", demo.renter, "--name", "demo", env=env)
        assert out.strip() == (
            f"logged in to {demo.url} as lakeside@{RENTER} (renter); profile 'demo' is in use"
        )
        path = Path(env["GPURENT_CONFIG_DIR"]) / "profiles.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        listed = ok("profile", "list", env=env)
        assert demo.url in listed
        assert "demo" in listed
        for shown in (out, listed, ok("profile", "list", "--json", env=env), ok("whoami", env=env)):
            assert demo.renter not in shown
        assert ok("whoami", env=env).strip() == (
            f"remote mode: {demo.url} (profile demo), as lakeside@{RENTER}, role renter"
        )
        assert "local mode" in ok("logout", env=env) + ok("whoami", env=env)
        ok("profile", "use", "demo", env=env)
        assert json.loads(ok("whoami", "--json", env=env))["mode"] == "remote"
        ok("profile", "remove", "demo", env=env)
        assert json.loads(ok("whoami", "--json", env=env))["mode"] == "local"

    def test_a_wrong_token_is_refused_and_nothing_stored(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = elsewhere(tmp_path, "laptop")
        refused = gpurent("login", demo.url, "--token", "gpr_forged", env=env)
        assert refused.returncode == 1
        assert refused.stderr.strip() == "error: unknown or revoked token"
        assert not (Path(env["GPURENT_CONFIG_DIR"]) / "profiles.json").exists()

    def test_environment_variables_override_the_profile(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = logged_in(demo, tmp_path, "laptop", demo.renter)
        officer = env | {"GPURENT_TOKEN": demo.compliance}
        assert json.loads(ok("whoami", "--json", env=officer))["role"] == "compliance"
        bare = elsewhere(tmp_path, "bare") | {"GPURENT_URL": demo.url, "GPURENT_TOKEN": demo.admin}
        me = json.loads(ok("whoami", "--json", env=bare))
        assert (me["mode"], me["source"], me["role"]) == ("remote", "GPURENT_URL", "admin")
        alone = gpurent("whoami", env=elsewhere(tmp_path, "x") | {"GPURENT_TOKEN": "t"})
        assert alone.returncode == 1
        assert alone.stderr.startswith("error: GPURENT_TOKEN is set but no server is")


class TestRenterTour:
    def test_the_readme_tour_through_the_command_line_only(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = logged_in(demo, tmp_path, "laptop", demo.renter)
        windows = json.loads(
            ok("availability", "A100-80GB", "2", "--hours", "1", "--json", env=env)
        )
        assert windows[0]["quote"]["total"]
        quote = json.loads(ok("quote", "A100-80GB", "2", "--hours", "1", "--json", env=env))
        assert quote["total"] == "2.50"
        lease = json.loads(
            ok("lease", "create", "A100-80GB", "2", "--hours", "1", "--json", env=env)
        )
        assert lease["status"] == "active"
        submitted = ok(
            "job", "submit", str(lease["id"]), "--gpus", "2", "--json", "--",
            "sh", "-c", "echo gpus=$CUDA_VISIBLE_DEVICES; echo done",
            env=env,
        )  # fmt: skip
        job = json.loads(submitted)
        logs = ok("job", "logs", str(job["id"]), "--follow", env=env)
        indices = ",".join(str(i) for i in job["gpu_indices"])
        assert logs.splitlines() == [f"gpus={indices}", "done"]
        assert json.loads(ok("job", "show", str(job["id"]), "--json", env=env))["exit_code"] == 0
        (usage,) = json.loads(ok("usage", "--lease", str(lease["id"]), "--json", env=env))
        assert usage["jobs"][0]["job_id"] == job["id"]
        assert usage["allocated_gpu_seconds"] > 0
        released = json.loads(ok("lease", "release", str(lease["id"]), "--json", env=env))
        assert released["status"] == "ended"
        listed = ok("lease", "list", env=env, columns=80)
        assert re.search(rf"^\s*{lease['id']}\s+ended\s", listed, re.MULTILINE), listed
        # Nothing was done locally: no database appeared in the laptop's data directory.
        assert not (Path(env["GPURENT_DATA_DIR"]) / "gpurent.db").exists()

    def test_a_renter_gets_the_servers_refusals(self, demo: DemoServer, tmp_path: Path) -> None:
        env = logged_in(demo, tmp_path, "laptop", demo.renter)
        unsold = gpurent("availability", "B200", "1", "--hours", "1", env=env)
        assert unsold.returncode == 1
        assert unsold.stderr.startswith("error: no B200 is offered here")
        refused = gpurent("fleet", "list", env=env)
        assert (refused.returncode, refused.stderr) == (1, "error: a renter may not fleet:read\n")
        other = next(n for n in demo.renters if n != RENTER)
        theirs = logged_in(demo, tmp_path, "theirs", demo.renters[other])
        lease = json.loads(ok("lease", "create", "H20", "1", "--hours", "1", "--json", env=theirs))
        hidden = gpurent("lease", "show", str(lease["id"]), env=env)
        assert (hidden.returncode, hidden.stderr) == (1, f"error: no lease {lease['id']}\n")
        gone = gpurent("lease", "release", str(lease["id"]), env=env)
        assert gone.returncode == 1
        ok("lease", "release", str(lease["id"]), env=theirs)

    @pytest.mark.parametrize(
        "args",
        [
            ["serve"],
            ["worker", "--once"],
            ["db", "upgrade"],
            ["lists", "import", "--bundled"],
            ["fleet", "import", "fleet.yaml"],
        ],
    )
    def test_local_only_commands_say_so(
        self, demo: DemoServer, tmp_path: Path, args: list[str]
    ) -> None:
        env = logged_in(demo, tmp_path, "laptop", demo.admin)
        result = gpurent(*args, env=env)
        assert result.returncode == 1
        assert "works only locally, on the server's host" in result.stderr
        assert demo.url in result.stderr
        assert not (Path(env["GPURENT_DATA_DIR"]) / "gpurent.db").exists()


class TestBalance:
    def test_a_renter_reads_its_balance_burn_rate_and_run_out_remotely(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = logged_in(demo, tmp_path, "wallet", demo.renters["Lakeside University"])
        shown = json.loads(ok("balance", "--json", env=env))
        assert shown["prepaid"] is True  # the demo grants Lakeside a prepaid balance
        assert Decimal(shown["balance"]) > 0
        assert Decimal(shown["burn_per_hour"]) > 0  # its running demo lease
        assert shown["runs_out_at"] is not None
        text = ok("balance", env=env)
        assert "burn rate" in text
        assert "runs out at" in text
        other = gpurent("balance", "-o", "Nordlicht Robotics GmbH", env=env)
        assert other.returncode != 0  # another customer's money stays its own


class TestOutput:
    def test_both_modes_print_the_same(self, demo: DemoServer, tmp_path: Path) -> None:
        env = logged_in(demo, tmp_path, "ops", demo.admin)
        lease = json.loads(ok("lease", "create", "L40S", "1", "--hours", "2", "--json", env=env))
        for args in (
            ["lease", "show", str(lease["id"])],
            ["lease", "list", "--limit", "5"],
            ["catalog", "list"],
            ["catalog", "show", "A30"],
            ["offers"],
            ["org", "list"],
            ["fleet", "list"],
            ["fleet", "show", "fra-a100-01"],
        ):
            remote, local = ok(*args, env=env), ok(*args, env=demo.env)
            assert remote == local, args
        for bogus in (["--gpus", "--model", "A100-81GB"], ["--facility", "nowhere-1"]):
            refusals = [gpurent("fleet", "list", *bogus, env=e) for e in (env, demo.env)]
            assert {(r.returncode, r.stderr) for r in refusals} == {
                (1, "error: unknown GPU model 'A100-81GB'\n")
                if "--model" in bogus
                else (1, "error: no facility 'nowhere-1'\n")
            }
        ok("lease", "release", str(lease["id"]), env=env)

    @pytest.mark.parametrize(
        "args",
        [
            ["lease", "list"],
            ["availability", "H100-SXM", "16", "--hours", "24"],
            ["catalog", "list"],
            ["fleet", "list"],
            ["org", "list"],
        ],
    )
    def test_tables_fit_80_columns_with_whole_ids_times_and_statuses(
        self, demo: DemoServer, tmp_path: Path, args: list[str]
    ) -> None:
        env = logged_in(demo, tmp_path, "ops", demo.admin)
        ok("lease", "create", "A100-80GB", "8", "--hours", "3", "--start", "2030-01-01T00:00",
           env=env)  # fmt: skip
        narrow = ok(*args, env=env, columns=80)
        wide = json.loads(ok(*args, "--json", env=env))
        assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
        assert "…" not in narrow
        for row in wide:
            for key in ("id", "name", "status", "standing"):
                if row.get(key) is not None:
                    assert re.search(rf"(^|\s){re.escape(str(row[key]))}(\s|$)", narrow), key
            for key in ("start", "end", "created_at"):
                if key in row and args[0] != "org":
                    moment = datetime.fromisoformat(row[key]).astimezone(UTC)
                    assert moment.strftime("%Y-%m-%dT%H:%M") in narrow
        assert TIME.search(narrow) or args[0] in ("catalog", "fleet", "org")


class TestOfficer:
    def test_an_officer_works_the_review_queue_remotely(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        env = logged_in(demo, tmp_path, "officer", demo.compliance)
        queue = json.loads(ok("review", "list", "--json", env=env))
        (case,) = [r for r in queue if r["kind"] == "lease"]
        assert case["status"] == "open"
        shown = json.loads(ok("review", "show", str(case["id"]), "--json", env=env))
        assert shown["reasons"]
        assert ok("review", "claim", str(case["id"]), env=env).strip() == (
            f"review {case['id']}: assigned to compliance-officer@Demo GPU Cloud"
        )
        ok("review", "note", str(case["id"]), "asked for the register extract", env=env)
        decided = ok("review", "deny", str(case["id"]), "--reason", "stake not divested", env=env)
        assert decided.strip() == f"review {case['id']}: denied"
        assert "audit log intact" in ok("audit", "verify", env=env)
        renter = logged_in(demo, tmp_path, "laptop", demo.renter)
        refused = gpurent("review", "list", env=renter)
        assert (refused.returncode, refused.stderr) == (1, "error: a renter may not review\n")


class TestFormats:
    def test_wide_yaml_and_json_carry_the_same_rows(self, demo: DemoServer, tmp_path: Path) -> None:
        import yaml

        env = logged_in(demo, tmp_path, "ops", demo.admin)
        narrow = ok("lease", "list", env=env, columns=80)
        wide = ok("lease", "list", "--wide", env=env, columns=80)
        assert "facility" not in narrow.splitlines()[0]
        assert wide.splitlines()[0].split()[-3:] == ["facility", "term", "addresses"]
        as_yaml = yaml.safe_load(ok("lease", "list", "-o", "yaml", env=env))
        assert as_yaml == json.loads(ok("lease", "list", "--output", "json", env=env))
        queue = ok("review", "list", "--status", "all", env=env, columns=80)
        assert max(len(line) for line in queue.splitlines()) <= 80
        bad = gpurent("lease", "list", "--output", "xml", env=env)
        assert bad.returncode == 2
        assert bad.stderr.startswith("error: Invalid value for '--output' / '-o'")
