"""Fleet files: applied as a diff, rejected whole with the place of every error."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.catalog import service as catalog_service
from gpurent.errors import FileFormatError
from gpurent.fleet import service
from gpurent.fleet.fleetfile import parse_fleet_text
from gpurent.fleet.importer import import_fleet
from gpurent.fleet.models import Gpu, GpuEvent, Node, SlurmAccount
from gpurent.fleet.states import GpuState
from tests.builders import fleet_yaml, load_fleet


def gpu_count(session: Session) -> int:
    return session.scalar(select(func.count(Gpu.id))) or 0


def rejected(session: Session, text: str) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        load_fleet(session, text)
    return caught.value


def messages(error: FileFormatError) -> list[str]:
    return [item.msg for item in error.items]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


class TestDiff:
    def test_second_import_of_same_file_changes_nothing(self, session: Session) -> None:
        text = fleet_yaml(nodes=3)
        first = load_fleet(session, text)
        assert first.created == {
            "gpu_models": 0,
            "facilities": 1,
            "nodes": 3,
            "gpus": 24,
            "rate_cards": 0,
            "slurm_accounts": 0,
        }
        assert first.total == 28
        second = load_fleet(session, text)
        assert second.total == 0
        assert second.changes == []
        assert gpu_count(session) == 24

    def test_changed_values_are_reported_and_applied(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=2))
        text = fleet_yaml(nodes=3).replace("cpu_cores: 64", "cpu_cores: 96", 1)
        report = load_fleet(session, text)
        assert report.created["nodes"] == 1
        assert report.updated["nodes"] == 1
        assert "~ node node-00: cpu_cores 64 -> 96" in report.changes
        assert service.get_node(session, "node-00").cpu_cores == 96

    def test_model_swap_is_an_update(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=1))
        text = fleet_yaml(nodes=1).replace(
            "{index: 3, model: A100-80GB", "{index: 3, model: H100-SXM"
        )
        report = load_fleet(session, text)
        assert report.changes == ["~ gpu node-00/3: model A100-80GB -> H100-SXM"]
        assert service.get_gpu(session, "node-00/3").model.name == "H100-SXM"

    def test_serials_can_swap_between_gpus(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=1))
        text = (
            fleet_yaml(nodes=1)
            .replace("serial: S-00-0}", "serial: TMP}")
            .replace("serial: S-00-1}", "serial: S-00-0}")
            .replace("serial: TMP}", "serial: S-00-1}")
        )
        report = load_fleet(session, text)
        assert report.updated["gpus"] == 2
        assert service.get_gpu(session, "S-00-0").address == "node-00/1"

    def test_new_gpus_start_available_with_a_creation_event(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=1))
        gpu = service.get_gpu(session, "node-00/0")
        assert gpu.state == GpuState.AVAILABLE
        events = service.gpu_events(session, gpu)
        assert [(e.from_state, e.to_state) for e in events] == [(None, "available")]

    def test_state_in_file_goes_through_the_transition_table(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=1))
        text = fleet_yaml(nodes=1).replace("serial: S-00-2}", "serial: S-00-2, state: maintenance}")
        load_fleet(session, text)
        gpu = service.get_gpu(session, "node-00/2")
        assert gpu.state == GpuState.MAINTENANCE
        assert service.gpu_events(session, gpu)[-1].to_state == "maintenance"

    def test_prune_retires_gpus_missing_from_the_file(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=2))
        report = import_fleet(
            session, parse_fleet_text(fleet_yaml(nodes=1), "f.yaml"), actor="t", prune=True
        )
        assert report.retired == 8
        assert service.get_gpu(session, "node-01/0").state == GpuState.RETIRED
        again = import_fleet(
            session, parse_fleet_text(fleet_yaml(nodes=1), "f.yaml"), actor="t", prune=True
        )
        assert again.total == 0

    def test_without_prune_missing_gpus_stay(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=2))
        assert load_fleet(session, fleet_yaml(nodes=1)).total == 0
        assert service.get_gpu(session, "node-01/0").state == GpuState.AVAILABLE

    def test_dry_run_writes_nothing(self, session: Session) -> None:
        report = import_fleet(
            session, parse_fleet_text(fleet_yaml(nodes=2), "f.yaml"), actor="t", dry_run=True
        )
        assert report.created["gpus"] == 16
        assert gpu_count(session) == 0

    def test_operator_model_from_fleet_file_is_classified(self, session: Session) -> None:
        extra = """gpu_models:
  - name: ACME-X1
    vendor: ACME
    memory_gb: 64
    die_area_mm2: 500
    data_center: true
    dense_rates: {fp8: 400}
"""
        report = load_fleet(session, fleet_yaml(nodes=1, model="ACME-X1", extra=extra))
        assert report.created["gpu_models"] == 1
        described = catalog_service.describe(catalog_service.get_model(session, "acme-x1"))
        assert described.tpp == 3200
        assert described.performance_density == 6.4
        assert described.classification == "3A090.a"
        assert described.classification_paragraphs == ["3A090.a.2"]
        assert described.source == "fleet"


class TestRejection:
    def test_error_in_40th_gpu_changes_nothing_and_says_where(self, session: Session) -> None:
        good = fleet_yaml(nodes=5)
        load_fleet(session, good)
        bad = good.replace("cpu_cores: 64", "cpu_cores: 100", 1).replace(
            "{index: 7, model: A100-80GB, serial: S-04-7}",
            "{index: 7, model: A100-81GB, serial: S-04-7}",
        )
        error = rejected(session, bad)
        line = line_of(bad, "A100-81GB")
        assert messages(error) == [
            f"fleet.yaml:{line}: facilities[0].nodes[4].gpus[7].model: "
            "unknown GPU model 'A100-81GB'"
        ]
        session.expire_all()
        assert service.get_node(session, "node-00").cpu_cores == 64
        assert gpu_count(session) == 40

    def test_bad_file_on_empty_database_writes_nothing(self, session: Session) -> None:
        bad = fleet_yaml(nodes=5).replace("serial: S-04-7}", "serial: S-04-6}")
        error = rejected(session, bad)
        assert len(error.items) == 2  # both holders of the duplicate serial are named
        assert all("duplicate GPU serial 'S-04-6'" in m for m in messages(error))
        assert gpu_count(session) == 0
        assert session.scalar(select(func.count(Node.id))) == 0
        assert session.scalar(select(func.count(GpuEvent.id))) == 0

    def test_duplicate_gpu_index_on_a_node(self, session: Session) -> None:
        bad = fleet_yaml(nodes=1).replace("{index: 5,", "{index: 4,")
        error = rejected(session, bad)
        assert any(
            re.search(r"gpus\[5\]\.index: duplicate GPU index 4 on node 'node-00'", m)
            for m in messages(error)
        )

    def test_wrong_type(self, session: Session) -> None:
        bad = fleet_yaml(nodes=2).replace("cpu_cores: 64", 'cpu_cores: "lots"')
        error = rejected(session, bad)
        line = line_of(bad, '"lots"')
        assert messages(error)[0].startswith(
            f"fleet.yaml:{line}: facilities[0].nodes[0].cpu_cores: Input should be a valid integer"
        )

    def test_missing_field_points_at_its_parent(self, session: Session) -> None:
        bad = fleet_yaml(nodes=2).replace(", serial: S-01-3}", "}")
        error = rejected(session, bad)
        line = line_of(bad, "{index: 3, model: A100-80GB}")
        assert messages(error) == [
            f"fleet.yaml:{line}: facilities[0].nodes[1].gpus[3].serial: required field is missing"
        ]

    def test_unknown_field(self, session: Session) -> None:
        bad = fleet_yaml(nodes=1).replace("cpu_cores: 64", "cpu_cores: 64\n        colour: red")
        assert "colour: unknown field" in messages(rejected(session, bad))[0]

    def test_invalid_country(self, session: Session) -> None:
        error = rejected(session, fleet_yaml(country="XX"))
        assert "not an ISO 3166-1 alpha-2 country code" in messages(error)[0]

    def test_yaml_syntax_error_names_line_and_column(self, session: Session) -> None:
        error = rejected(session, "facilities:\n  - name: [unclosed\n")
        assert re.match(r"fleet\.yaml:\d+:\d+: not valid YAML", messages(error)[0])

    def test_duplicate_key(self, session: Session) -> None:
        bad = fleet_yaml(nodes=1).replace("city: Testville", "city: Testville\n    city: Other")
        assert "key 'city' appears more than once" in messages(rejected(session, bad))[0]

    def test_not_a_mapping(self, session: Session) -> None:
        assert "a fleet file is a mapping" in messages(rejected(session, "- 1\n- 2\n"))[0]

    def test_builtin_model_cannot_be_redefined(self, session: Session) -> None:
        extra = """gpu_models:
  - {name: A100-80GB, vendor: X, memory_gb: 1, data_center: true, dense_rates: {INT8: 1}}
"""
        error = rejected(session, fleet_yaml(extra=extra))
        assert "'A100-80GB' is a built-in model" in messages(error)[0]

    def test_unknown_precision(self, session: Session) -> None:
        extra = """gpu_models:
  - {name: Z1, vendor: X, memory_gb: 1, data_center: true, dense_rates: {INT3: 1}}
"""
        assert "unknown precision 'INT3'" in messages(rejected(session, fleet_yaml(extra=extra)))[0]

    def test_forbidden_state_change_is_refused(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=1))
        service.set_gpu_state(session, "node-00/0", GpuState.RETIRED, reason="eol", actor="t")
        bad = fleet_yaml(nodes=1).replace("serial: S-00-0}", "serial: S-00-0, state: available}")
        assert "cannot go from retired to available" in messages(rejected(session, bad))[0]

    def test_serial_held_by_an_undescribed_gpu(self, session: Session) -> None:
        load_fleet(session, fleet_yaml(nodes=2))
        bad = fleet_yaml(nodes=1).replace("serial: S-00-0}", "serial: S-01-0}")
        error = rejected(session, bad)
        assert "belongs to GPU node-01/0, which this file does not describe" in messages(error)[0]


def slurm_fleet(accounts_yaml: str, backend: str = "slurm") -> str:
    """One Slurm facility of one node, with the given `slurm_accounts:` lines."""
    head = f"    city: Testville\n    backend: {backend}\n"
    return fleet_yaml(nodes=1).replace("    city: Testville\n", head + accounts_yaml)


def mappings(session: Session) -> dict[str, tuple[str, str]]:
    rows = session.scalars(select(SlurmAccount)).all()
    return {row.organization.name: (row.unix_user, row.account) for row in rows}


class TestSlurmAccounts:
    @pytest.fixture(autouse=True)
    def organizations(self, session: Session) -> None:
        for name in ("Lakeside", "Brightwave", "Third"):
            accounts.create_organization(session, name, "customer", "US", actor="test")

    TWO = """    slurm_accounts:
      - {organization: Lakeside, user: lakeside, account: lake}
      - {organization: Brightwave, user: bright, account: bright}
"""

    def test_mappings_are_created_then_unchanged(self, session: Session) -> None:
        first = load_fleet(session, slurm_fleet(self.TWO))
        assert first.created["slurm_accounts"] == 2
        assert "+ slurm account of Lakeside in us-test-1: user lakeside, account lake" in (
            first.changes
        )
        assert mappings(session) == {
            "Lakeside": ("lakeside", "lake"),
            "Brightwave": ("bright", "bright"),
        }
        assert load_fleet(session, slurm_fleet(self.TWO)).total == 0

    def test_the_list_replaces_the_mappings_and_users_can_swap(self, session: Session) -> None:
        load_fleet(session, slurm_fleet(self.TWO))
        swapped = """    slurm_accounts:
      - {organization: Lakeside, user: bright, account: lake}
      - {organization: Third, user: third, account: third}
"""
        report = load_fleet(session, slurm_fleet(swapped))
        assert sorted(report.changes) == [
            "+ slurm account of Third in us-test-1: user third, account third",
            "- slurm account of Brightwave in us-test-1",
            "~ slurm account of Lakeside in us-test-1: user lakeside -> bright, "
            "account lake -> lake",
        ]
        assert mappings(session) == {"Lakeside": ("bright", "lake"), "Third": ("third", "third")}

    def test_a_file_without_the_list_leaves_the_mappings(self, session: Session) -> None:
        load_fleet(session, slurm_fleet(self.TWO))
        assert load_fleet(session, slurm_fleet("")).total == 0
        assert len(mappings(session)) == 2
        load_fleet(session, slurm_fleet("    slurm_accounts: []\n"))
        assert mappings(session) == {}

    def test_one_user_or_account_per_organization(self, session: Session) -> None:
        text = slurm_fleet(
            """    slurm_accounts:
      - {organization: Lakeside, user: shared, account: lake}
      - {organization: Brightwave, user: shared, account: lake}
      - {organization: Lakeside, user: other, account: other}
"""
        )
        error = rejected(session, text)
        assert messages(error) == [
            f"fleet.yaml:{line_of(text, 'Brightwave')}: facilities[0].slurm_accounts[1].user: "
            "user 'shared' is mapped twice on this facility",
            f"fleet.yaml:{line_of(text, 'Brightwave')}: facilities[0].slurm_accounts[1].account: "
            "account 'lake' is mapped twice on this facility",
            f"fleet.yaml:{line_of(text, 'other')}: facilities[0].slurm_accounts[2].organization: "
            "organization 'Lakeside' is mapped twice on this facility",
        ]
        assert gpu_count(session) == 0  # nothing of the file was applied

    def test_unknown_organization_root_and_bad_names_are_refused(self, session: Session) -> None:
        text = slurm_fleet(
            """    slurm_accounts:
      - {organization: Nobody, user: nobody1, account: nobody1}
"""
        )
        assert messages(rejected(session, text)) == [
            f"fleet.yaml:{line_of(text, 'Nobody')}: facilities[0].slurm_accounts[0].organization: "
            "unknown organization 'Nobody'"
        ]
        root = slurm_fleet(
            "    slurm_accounts:\n      - {organization: Lakeside, user: root, account: a}\n"
        )
        assert "a customer's jobs never run as root" in messages(rejected(session, root))[0]
        for user in ("../x", "Lake side", "-x", "x" * 33):
            entry = f"{{organization: Lakeside, user: '{user}', account: a}}"
            bad = slurm_fleet(f"    slurm_accounts:\n      - {entry}\n")
            assert "slurm_accounts[0].user" in messages(rejected(session, bad))[0], user
        assert mappings(session) == {}

    def test_only_a_slurm_facility_has_slurm_accounts(self, session: Session) -> None:
        text = slurm_fleet(self.TWO, backend="local")
        assert messages(rejected(session, text)) == [
            f"fleet.yaml:{line_of(text, 'Lakeside')}: facilities[0].slurm_accounts: "
            "only a Slurm facility (backend: slurm) has Slurm accounts"
        ]
