"""Hostile and absurd input gets a clear 4xx in the gpurent error shape, never a 500.

Each case is one that a fuzzer or a renter sent: ids past 2^63, hour counts that overflow a
timedelta, years the calendar cannot reach, naive times, booleans as counts, unknown
countries, bodies of many megabytes. The OpenAPI document says what the server sends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.api.app import create_app
from gpurent.api.auth import forget_cached_tokens
from gpurent.config import Settings
from gpurent.errors import GpurentError, NotFoundError
from tests.builders import load_fleet, priced_fleet
from tests.conftest import make_token

HUGE = "99999999999999999999"
TOO_BIG_ID = str(2**31)  # ids are INTEGER columns
TOO_BIG_OFFSET = str(2**63)


def assert_error(response: Any, status: int, field: str | None = None) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail
    for item in detail:
        assert set(item) == {"code", "msg", "fields"}
    if field is not None:
        assert any(field in f for item in detail for f in item["fields"]), detail
    return list(detail)


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.fixture
def api(client: TestClient, session: Session) -> TestClient:
    load_fleet(session, priced_fleet(nodes=2))
    return client


@pytest.fixture
def lease_id(api: TestClient) -> int:
    response = api.post("/v1/leases", json={"gpu_model": "A100-80GB", "gpus": 1, "hours": 2})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@contextmanager
def limited_client(engine: Engine, tmp_path: Path, **limits: Any) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "limited", database_url=str(engine.url), **limits)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        token = make_token(engine, "Operator", "operator", "admin", Role.ADMIN)
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


class TestIdsAndOffsets:
    @pytest.mark.parametrize(
        "path",
        [
            f"/v1/leases/{HUGE}",
            f"/v1/leases/{TOO_BIG_ID}",
            "/v1/leases/0",
            "/v1/leases/-1",
            f"/v1/leases/{HUGE}/events",
            f"/v1/jobs/{HUGE}",
            f"/v1/jobs/{HUGE}/logs",
            "/v1/jobs/1/logs?offset=-5",
            f"/v1/jobs/1/logs?offset={TOO_BIG_OFFSET}",
            f"/v1/leases?offset={TOO_BIG_OFFSET}",
            f"/v1/leases/{2**63 - 1}",
            f"/v1/gpus?offset={HUGE}",
            f"/v1/organizations/{HUGE}",
            f"/v1/organizations/{HUGE}/dossier",
            f"/v1/reviews/{HUGE}",
            f"/v1/gpus/{HUGE}",
            "/v1/gpus/%C2%B2",  # a superscript two: a digit to str.isdigit, not to int()
        ],
    )
    def test_out_of_range_is_422(self, api: TestClient, path: str) -> None:
        assert_error(api.get(path), 422)

    def test_largest_id_is_a_plain_404(self, api: TestClient) -> None:
        assert_error(api.get(f"/v1/leases/{2**31 - 1}"), 404)
        assert_error(api.get(f"/v1/gpus/{2**31 - 1}"), 404)
        assert_error(api.get(f"/v1/organizations/{2**31 - 1}"), 404)

    def test_largest_offset_is_an_empty_page(self, api: TestClient, lease_id: int) -> None:
        response = api.get(f"/v1/leases?offset={2**63 - 1}")
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert response.headers["X-Total-Count"] == "1"

    def test_post_with_huge_id(self, api: TestClient) -> None:
        assert_error(api.post(f"/v1/leases/{HUGE}/extend", json={"hours": 1}), 422)
        assert_error(api.post(f"/v1/jobs/{HUGE}/cancel"), 422)

    def test_staff_naming_a_huge_organization(self, api: TestClient) -> None:
        body = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}
        assert_error(api.post(f"/v1/leases?organization={HUGE}", json=body), 422)
        token = {"organization": HUGE, "user": "x", "role": "renter"}
        assert_error(api.post("/v1/tokens", json=token), 422)


class TestOrganizationLookup:
    @pytest.mark.parametrize("reference", [HUGE, TOO_BIG_ID, "9" * 5000, "0", "\u00b2"])
    def test_an_id_past_the_column_is_not_found(self, session: Session, reference: str) -> None:
        # Every caller that names an organization (billing, the gate) goes through here.
        with pytest.raises(NotFoundError):
            accounts.get_organization(session, reference)


class TestDurations:
    def test_hours_that_overflow_a_timedelta(self, api: TestClient, lease_id: int) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1e9}
        assert_error(api.post("/v1/leases", json=lease), 422, "hours")
        assert_error(api.post(f"/v1/leases/{lease_id}/extend", json={"hours": 1e9}), 422)
        assert_error(api.post(f"/v1/leases/{lease_id}/shorten", json={"hours": 1e9}), 422)
        quote = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1e9}
        assert_error(api.post("/v1/quotes", json=quote), 422, "hours")
        query = "gpu_model=A100-80GB&gpus=1&hours=1e9"
        assert_error(api.get(f"/v1/availability?{query}"), 422, "hours")

    def test_hours_past_the_configured_maximum(self, api: TestClient, lease_id: int) -> None:
        # Under the hard cap, over GPURENT_LEASE_MAX_HOURS (9600): the message names it.
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 20000}
        (item,) = assert_error(api.post("/v1/leases", json=lease), 422, "hours")
        assert "GPURENT_LEASE_MAX_HOURS" in item["msg"]
        assert_error(api.post(f"/v1/leases/{lease_id}/extend", json={"hours": 20000}), 422)
        query = "gpu_model=A100-80GB&gpus=1&hours=20000"
        assert_error(api.get(f"/v1/availability?{query}"), 422, "hours")

    def test_a_tiny_lease_is_refused(self, api: TestClient) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1e-7}
        (item,) = assert_error(api.post("/v1/leases", json=lease), 422, "hours")
        assert "minute" in item["msg"]
        query = "gpu_model=A100-80GB&gpus=1&hours=0.0000001"
        assert_error(api.get(f"/v1/availability?{query}"), 422, "hours")

    @pytest.mark.parametrize("hours", ["NaN", "Infinity", -1, 0, True])
    def test_hours_not_a_positive_number(self, api: TestClient, hours: Any) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": hours}
        assert_error(api.post("/v1/leases", json=lease), 422, "hours")

    def test_months_past_the_limit(self, api: TestClient) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "term": "reserved", "months": 61}
        assert_error(api.post("/v1/leases", json=lease), 422, "months")
        assert_error(api.post("/v1/quotes", json=lease), 422, "months")

    def test_settings_tighten_the_limits(
        self, engine: Engine, session: Session, tmp_path: Path
    ) -> None:
        load_fleet(session, priced_fleet(nodes=1))
        limits = {"lease_max_hours": 10, "lease_max_months": 3, "max_body_bytes": 2048}
        with limited_client(engine, tmp_path, **limits) as api:
            stated = api.get("/v1/limits").json()
            assert stated["lease_max_hours"] == 10
            assert stated["lease_max_months"] == 3
            assert stated["max_body_bytes"] == 2048
            ok = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 10}
            assert api.post("/v1/leases", json=ok).status_code == 201
            long = ok | {"hours": 11}
            assert_error(api.post("/v1/leases", json=long), 422, "hours")
            reserved = {"gpu_model": "A100-80GB", "gpus": 1, "term": "reserved", "months": 4}
            assert_error(api.post("/v1/quotes", json=reserved), 422, "months")
            assert_error(api.post("/v1/leases", json=ok | {"facility": "x" * 3000}), 413)


class TestTimes:
    @pytest.mark.parametrize(
        "start",
        [
            "9999-12-31T23:00:00Z",
            "2200-01-01T00:00:00Z",
            "1999-12-31T23:00:00Z",
            99999999999999,  # a number would be read as Unix milliseconds: the year 5138
            1900000000,
            "2030-01-01T00:00:00",  # naive
        ],
    )
    def test_start_out_of_range_or_naive(self, api: TestClient, start: Any) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1, "start": start}
        assert_error(api.post("/v1/leases", json=lease), 422, "start")
        quote = {"gpu_model": "A100-80GB", "gpus": 1, "term": "reserved", "months": 60}
        assert_error(api.post("/v1/quotes", json=quote | {"start": start}), 422, "start")

    def test_start_too_far_ahead(self, api: TestClient) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1, "start": later(days=4000)}
        (item,) = assert_error(api.post("/v1/leases", json=lease), 422, "start")
        assert "3650 days" in item["msg"]

    def test_end_in_year_9999(self, api: TestClient, lease_id: int) -> None:
        body = {"gpu_model": "A100-80GB", "gpus": 1, "end": "9999-12-31T23:00:00Z"}
        assert_error(api.post("/v1/leases", json=body), 422, "end")
        change = {"end": "9999-12-31T23:00:00Z"}
        assert_error(api.post(f"/v1/leases/{lease_id}/extend", json=change), 422, "end")

    def test_naive_after_in_availability(self, api: TestClient) -> None:
        query = "gpu_model=A100-80GB&gpus=1&hours=1"
        assert_error(api.get(f"/v1/availability?{query}&after=2030-01-01T00:00:00"), 422, "after")
        assert_error(api.get(f"/v1/availability?{query}&after=9999-12-31T23:00:00Z"), 422)
        fine = api.get(f"/v1/availability?{query}&after=2030-01-01T00:00:00Z")
        assert fine.status_code == 200, fine.text
        assert fine.json()[0]["start"].startswith("2030-01-01")

    def test_calendar_naive_or_far(self, api: TestClient) -> None:
        assert_error(
            api.get("/v1/calendar?start=2030-01-01T00:00:00&end=2030-01-02T00:00:00Z"), 422
        )
        far = "/v1/calendar?start=2030-01-01T00:00:00Z&end=9999-12-31T00:00:00Z"
        assert_error(api.get(far), 422, "end")


class TestCountsAndCountries:
    @pytest.mark.parametrize("gpus", [True, False, 2.0, "2", 0, 4097, 2**64])
    def test_gpus_must_be_a_plain_integer(self, api: TestClient, gpus: Any) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": gpus, "hours": 1}
        assert_error(api.post("/v1/leases", json=lease), 422, "gpus")
        assert_error(api.post("/v1/quotes", json=lease), 422, "gpus")

    def test_months_true_is_no_count(self, api: TestClient) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "term": "reserved", "months": True}
        assert_error(api.post("/v1/leases", json=lease), 422, "months")

    @pytest.mark.parametrize("country", ["zz", "XX", "U1", "USA"])
    def test_unknown_country_codes(self, api: TestClient, country: str) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1, "country": country}
        assert_error(api.post("/v1/leases", json=lease), 422, "country")
        query = f"gpu_model=A100-80GB&gpus=1&hours=1&country={country}"
        assert_error(api.get(f"/v1/availability?{query}"), 422, "country")
        org = {"name": f"Org {country}", "country": country}
        assert_error(api.post("/v1/organizations", json=org), 422, "country")

    def test_lower_case_country_is_understood(self, api: TestClient) -> None:
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1, "country": "us"}
        response = api.post("/v1/leases", json=lease)
        assert response.status_code == 201, response.text
        assert response.json()["country"] == "US"


class TestBodies:
    def test_a_50_mb_body_is_refused_unread(self, api: TestClient) -> None:
        body = b'{"gpu_model": "' + b"A" * (50 * 1024 * 1024) + b'", "gpus": 1}'
        response = api.post(
            "/v1/leases", content=body, headers={"content-type": "application/json"}
        )
        (item,) = assert_error(response, 413)
        assert item["code"] == "too_large"
        assert len(response.content) < 1000

    def test_a_chunked_body_is_cut_off(self, api: TestClient) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"gpu_model": "'
            for _ in range(40):
                yield b"A" * 65536
            yield b'"}'

        response = api.post(
            "/v1/quotes", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(response, 413)
        assert len(response.content) < 1000

    def test_errors_never_echo_the_body(self, api: TestClient) -> None:
        name = "N" * 500_000  # under the body limit
        response = api.post("/v1/leases", json={"gpu_model": name, "gpus": 1, "hours": 1})
        assert response.status_code in (404, 422)
        assert len(response.content) < 2000
        response = api.post("/v1/quotes", json={"gpu_model": "A100-80GB", "gpus": 1, name: 1})
        assert_error(response, 422)
        assert len(response.content) < 2000
        response = api.get(f"/v1/facilities/{'f' * 150}")
        assert_error(response, 404)

    def test_many_errors_are_capped(self, api: TestClient) -> None:
        body = {f"k{n}": n for n in range(5000)} | {"gpu_model": "A100-80GB", "gpus": 1}
        detail = assert_error(api.post("/v1/quotes", json=body), 422)
        assert len(detail) <= 100


def delete_organization_behind_its_back(engine: Engine, name: str) -> None:
    """What a hand-made DELETE does, with the foreign keys that would refuse it off."""
    if engine.dialect.name == "sqlite":
        # The pragma is a no-op inside a transaction: a plain sqlite3 connection, autocommit.
        with closing(sqlite3.connect(str(engine.url.database), isolation_level=None)) as raw:
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute("DELETE FROM organizations WHERE name = ?", (name,))
        return
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))
        connection.execute(text("DELETE FROM organizations WHERE name = :n"), {"n": name})


class TestTokens:
    def test_a_token_whose_organization_is_gone(self, api: TestClient, engine: Engine) -> None:
        token = make_token(engine, "Vanished Co", "customer", "ghost", Role.RENTER)
        delete_organization_behind_its_back(engine, "Vanished Co")
        forget_cached_tokens()
        headers = {"Authorization": f"Bearer {token}"}
        for method, path in (("GET", "/v1/leases"), ("GET", "/v1/organizations")):
            assert_error(api.request(method, path, headers=headers), 401)
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}
        assert_error(api.post("/v1/leases", json=lease, headers=headers), 401)

    def test_a_cached_principal_whose_organization_went_is_no_500(
        self, api: TestClient, engine: Engine
    ) -> None:
        token = make_token(engine, "Short Lived", "customer", "ghost", Role.RENTER)
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get("/v1/leases", headers=headers).status_code == 200  # now cached
        delete_organization_behind_its_back(engine, "Short Lived")
        lease = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}
        response = api.post("/v1/leases", json=lease, headers=headers)
        assert 400 <= response.status_code < 500, response.text


class TestOpenApiDocument:
    def test_every_operation_declares_the_error_shape(self, client: TestClient) -> None:
        document = client.get("/openapi.json").json()
        schemas = document["components"]["schemas"]
        assert "HTTPValidationError" not in schemas
        assert "ValidationError" not in schemas
        assert schemas["ErrorItem"]["required"] == ["code", "msg", "fields"]
        operations = [
            (path, method, operation)
            for path, methods in document["paths"].items()
            for method, operation in methods.items()
            if path.startswith("/v1/")
        ]
        assert len(operations) >= 40
        ref = {"$ref": "#/components/schemas/ErrorResponse"}
        for path, method, operation in operations:
            for status in ("401", "403", "404", "409", "422"):
                response = operation["responses"][status]
                assert response["content"]["application/json"]["schema"] == ref, (path, method)
            assert operation["security"] == [{"bearer": []}], (path, method)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (path, method)
        assert "HTTPValidationError" not in str(document)

    def test_every_client_error_status_of_the_family_is_declared(self, client: TestClient) -> None:
        statuses, pending = set(), [GpurentError]
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if 400 <= cls.status_code < 500:
                statuses.add(str(cls.status_code))
        document = client.get("/openapi.json").json()
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if path.startswith("/v1/"):
                    assert statuses <= set(operation["responses"]), (path, method)

    def test_bearer_scheme(self, client: TestClient) -> None:
        document = client.get("/openapi.json").json()
        scheme = document["components"]["securitySchemes"]["bearer"]
        assert scheme["type"] == "http"
        assert scheme["scheme"] == "bearer"

    def test_a_422_matches_what_the_document_says(self, client: TestClient) -> None:
        response = client.get("/v1/leases/abc")
        (item,) = assert_error(response, 422, "path.lease_id")
        assert item["code"] == "invalid"

    def test_missing_or_malformed_token_is_401_in_shape(self, client: TestClient) -> None:
        for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
            client.headers.pop("Authorization", None)
            response = client.get("/v1/leases", headers=header)
            (item,) = assert_error(response, 401)
            assert item["code"] == "unauthenticated"
