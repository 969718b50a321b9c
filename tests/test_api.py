"""The REST API against a real database: catalog, fleet, errors, health, metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from tests.builders import fleet_yaml, load_fleet


@pytest.fixture
def fleet_client(client: TestClient, session: Session) -> TestClient:
    load_fleet(session, fleet_yaml(nodes=2))
    load_fleet(
        session,
        fleet_yaml(nodes=1, facility="de-test-1", country="DE", model="H20")
        .replace("node-00", "de-node-00")
        .replace("S-00", "DE-00"),
    )
    return client


def assert_error_shape(body: dict[str, object], code: str) -> None:
    detail = body["detail"]
    assert isinstance(detail, list)
    assert detail
    for item in detail:
        assert set(item) == {"code", "msg", "fields"}
    assert detail[0]["code"] == code


class TestCatalog:
    @pytest.mark.parametrize(
        ("name", "tpp", "klass"),
        [
            ("A100-80GB", 4992, "3A090.a"),
            ("H100-SXM", 15832, "3A090.a"),
            ("A30", 2640, "3A090.b"),
            ("H20", 2368, "not controlled"),
        ],
    )
    def test_model_figures(self, client: TestClient, name: str, tpp: int, klass: str) -> None:
        body = client.get(f"/v1/gpu-models/{name}").json()
        assert body["tpp"] == tpp
        assert body["classification"] == klass
        assert body["arithmetic"][-1].startswith(f"Classification: {klass}")

    def test_a30_sub_paragraph_and_density(self, client: TestClient) -> None:
        body = client.get("/v1/gpu-models/A30").json()
        assert body["classification_paragraphs"] == ["3A090.b.1"]
        assert body["performance_density"] == 3.196

    def test_note_2(self, client: TestClient) -> None:
        body = client.get("/v1/gpu-models/RTX-4090D").json()
        assert body["classification"] == "not controlled"
        assert body["note_2_applies"] is True
        assert body["controlled"] is False

    def test_list_and_case_insensitive_lookup(self, client: TestClient) -> None:
        names = [m["name"] for m in client.get("/v1/gpu-models").json()]
        assert len(names) >= 17
        assert "MI300X" in names
        assert client.get("/v1/gpu-models/h100-sxm").json()["name"] == "H100-SXM"

    def test_unknown_model_is_404(self, client: TestClient) -> None:
        response = client.get("/v1/gpu-models/A100-81GB")
        assert response.status_code == 404
        assert_error_shape(response.json(), "not_found")


class TestFleet:
    def test_facilities(self, fleet_client: TestClient) -> None:
        facilities = {f["name"]: f for f in fleet_client.get("/v1/facilities").json()}
        assert facilities["us-test-1"] == {
            "name": "us-test-1",
            "country": "US",
            "city": "Testville",
            "nodes": 2,
            "gpus": 16,
        }
        assert fleet_client.get("/v1/facilities/de-test-1").json()["country"] == "DE"

    def test_nodes(self, fleet_client: TestClient) -> None:
        nodes = fleet_client.get("/v1/nodes", params={"facility": "us-test-1"}).json()
        assert [n["name"] for n in nodes] == ["node-00", "node-01"]
        node = fleet_client.get("/v1/nodes/node-01").json()
        assert node["interconnect_domain"] == "ib-1"
        assert [g["index"] for g in node["gpus"]] == list(range(8))

    def test_gpus_filters_and_pages(self, fleet_client: TestClient) -> None:
        everything = fleet_client.get("/v1/gpus")
        assert everything.headers["X-Total-Count"] == "24"
        assert len(everything.json()) == 24
        h20 = fleet_client.get("/v1/gpus", params={"model": "H20"}).json()
        assert {g["facility"] for g in h20} == {"de-test-1"}
        assert len(h20) == 8
        page = fleet_client.get("/v1/gpus", params={"limit": 5, "offset": 20})
        assert len(page.json()) == 4
        assert page.headers["X-Total-Count"] == "24"

    def test_state_change_and_events(self, fleet_client: TestClient) -> None:
        gpu = fleet_client.get("/v1/gpus/S-00-3").json()
        response = fleet_client.put(
            f"/v1/gpus/{gpu['id']}/state", json={"state": "failed", "reason": "xid 79"}
        )
        assert response.status_code == 200
        assert response.json()["state"] == "failed"
        failed = fleet_client.get("/v1/gpus", params={"state": "failed"}).json()
        assert [g["address"] for g in failed] == ["node-00/3"]
        events = fleet_client.get(f"/v1/gpus/{gpu['id']}/events").json()
        assert events[-1]["to_state"] == "failed"
        assert events[-1]["reason"] == "xid 79"

    def test_forbidden_transition_is_409(self, fleet_client: TestClient) -> None:
        body = {"state": "retired", "reason": "eol"}
        assert fleet_client.put("/v1/gpus/S-00-4/state", json=body).status_code == 200
        response = fleet_client.put(
            "/v1/gpus/S-00-4/state", json={"state": "available", "reason": "back"}
        )
        assert response.status_code == 409
        assert_error_shape(response.json(), "invalid_transition")

    def test_bad_request_body_is_422_in_the_same_shape(self, fleet_client: TestClient) -> None:
        response = fleet_client.put("/v1/gpus/S-00-4/state", json={"state": "melted"})
        assert response.status_code == 422
        assert_error_shape(response.json(), "invalid")
        fields = {f for item in response.json()["detail"] for f in item["fields"]}
        assert fields == {"body.state", "body.reason"}

    def test_unknown_route_is_404_in_the_same_shape(self, client: TestClient) -> None:
        response = client.get("/v1/nothing-here")
        assert response.status_code == 404
        assert_error_shape(response.json(), "not_found")


class TestSystem:
    def test_healthz(self, client: TestClient) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    def test_openapi_docs(self, client: TestClient) -> None:
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/v1/gpus", "/v1/gpu-models/{name}", "/v1/facilities", "/v1/nodes"} <= set(paths)

    def test_metrics_parse_and_count_gpus(self, fleet_client: TestClient) -> None:
        fleet_client.put("/v1/gpus/S-00-0/state", json={"state": "maintenance", "reason": "r"})
        response = fleet_client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        samples = {
            (s.labels["facility"], s.labels["model"], s.labels["state"]): s.value
            for s in families["gpurent_gpus"].samples
        }
        assert samples == {
            ("us-test-1", "A100-80GB", "available"): 15,
            ("us-test-1", "A100-80GB", "maintenance"): 1,
            ("de-test-1", "H20", "available"): 8,
        }
