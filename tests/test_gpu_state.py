"""GPU state changes go through one function that checks the table and records an event."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gpurent.errors import InvalidTransitionError, NotFoundError
from gpurent.fleet import service
from gpurent.fleet.states import ALLOWED_TRANSITIONS, GpuState
from tests.builders import fleet_yaml, load_fleet


@pytest.fixture
def fleet(session: Session) -> Session:
    load_fleet(session, fleet_yaml(nodes=1))
    return session


class TestTransitions:
    def test_change_records_an_event(self, fleet: Session) -> None:
        gpu = service.set_gpu_state(
            fleet, "node-00/1", GpuState.MAINTENANCE, reason="fan noise", actor="ops"
        )
        assert gpu.state == GpuState.MAINTENANCE
        last = service.gpu_events(fleet, gpu)[-1]
        assert (last.from_state, last.to_state, last.reason, last.actor) == (
            "available",
            "maintenance",
            "fan noise",
            "ops",
        )

    def test_retired_is_final(self, fleet: Session) -> None:
        service.set_gpu_state(fleet, "node-00/1", GpuState.RETIRED, reason="eol", actor="ops")
        with pytest.raises(InvalidTransitionError, match="from retired it can go to nothing"):
            service.set_gpu_state(fleet, "node-00/1", GpuState.AVAILABLE, reason="x", actor="ops")

    def test_same_state_is_not_a_change(self, fleet: Session) -> None:
        with pytest.raises(InvalidTransitionError):
            service.set_gpu_state(fleet, "node-00/1", GpuState.AVAILABLE, reason="x", actor="o")
        assert len(service.gpu_events(fleet, service.get_gpu(fleet, "node-00/1"))) == 1

    @pytest.mark.parametrize("current", list(GpuState))
    def test_table_covers_every_state(self, current: GpuState) -> None:
        assert current in ALLOWED_TRANSITIONS
        assert current not in ALLOWED_TRANSITIONS[current]

    def test_refused_change_records_nothing(self, fleet: Session) -> None:
        service.set_gpu_state(fleet, "node-00/2", GpuState.RETIRED, reason="eol", actor="ops")
        with pytest.raises(InvalidTransitionError):
            service.set_gpu_state(fleet, "node-00/2", GpuState.FAILED, reason="x", actor="o")
        fleet.rollback()
        gpu = service.get_gpu(fleet, "node-00/2")
        assert gpu.state == GpuState.RETIRED
        assert [e.to_state for e in service.gpu_events(fleet, gpu)] == ["available", "retired"]


class TestLookup:
    def test_by_id_address_and_serial(self, fleet: Session) -> None:
        gpu = service.get_gpu(fleet, "S-00-5")
        assert service.get_gpu(fleet, str(gpu.id)).address == "node-00/5"
        assert service.get_gpu(fleet, "node-00/5").serial == "S-00-5"

    def test_unknown(self, fleet: Session) -> None:
        with pytest.raises(NotFoundError):
            service.get_gpu(fleet, "node-00/9")
