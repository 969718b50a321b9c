"""What an operator is told before a change it may regret: a GPU under a running lease,
a model nobody can book."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.builders import fleet_yaml, load_fleet, priced_fleet


def test_a_gpu_a_running_lease_holds_goes_out_of_service_only_when_forced(
    client: TestClient, session: Session
) -> None:
    load_fleet(session, priced_fleet(nodes=1))
    lease = client.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 1})
    assert lease.status_code == 201
    gpu = lease.json()["gpu_ids"][0]
    body = {"state": "maintenance", "reason": "reseat"}
    refused = client.put(f"/v1/gpus/{gpu}/state", json=body)
    assert refused.status_code == 409
    assert f"lease {lease.json()['id']}" in refused.json()["detail"][0]["msg"]
    assert client.get(f"/v1/gpus/{gpu}").json()["state"] == "available"  # nothing changed
    forced = client.put(f"/v1/gpus/{gpu}/state", json={**body, "force": True})
    assert forced.status_code == 200
    assert forced.json()["state"] == "maintenance"
    free = client.get("/v1/gpus", params={"state": "available"}).json()[0]["id"]
    assert client.put(f"/v1/gpus/{free}/state", json=body).status_code == 200  # not held


def test_importing_a_model_without_a_rate_card_warns(session: Session) -> None:
    report = load_fleet(session, fleet_yaml(nodes=1, model="H20"))
    assert report.warnings == ["GPU model H20 has 8 GPU(s) but no rate card: it cannot be booked"]
    priced = load_fleet(session, priced_fleet(nodes=1))
    assert not any("A100-80GB" in w for w in priced.warnings)
