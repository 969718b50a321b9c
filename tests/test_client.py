"""``gpurent.client`` against a real ``gpurent serve --demo``, on SQLite and PostgreSQL;
its retries against a real HTTP server that fails on purpose."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from gpurent.client import ConnectionFailedError, GpurentClient, ServerError
from gpurent.compliance.schemas import ClearanceIn
from gpurent.errors import (
    ConflictError,
    ForbiddenError,
    GpurentError,
    InvalidInputError,
    NotFoundError,
    UnauthenticatedError,
)
from gpurent.jobs.schemas import JobIn
from gpurent.leases.schemas import EndChange, LeaseRequest
from gpurent.leases.states import LeaseStatus
from gpurent.lists.schemas import ScreeningQuery
from gpurent.offers.schemas import QuoteRequest
from tests.remote import RENTER, DemoServer, demo
from tests.servers import free_port

__all__ = ["demo"]  # the fixture, imported for this module's tests


def client(url: str, token: str | None) -> GpurentClient:
    return GpurentClient(url, token, sleep=lambda _seconds: None)


class TestReads:
    def test_whoami_says_who_each_token_is(self, demo: DemoServer) -> None:
        with client(demo.url, demo.renter) as api:
            me = api.whoami()
        assert (me.user, me.organization, me.role) == ("lakeside", RENTER, "renter")
        assert "leases:create" in me.permissions
        assert "fleet:read" not in me.permissions
        with client(demo.url, demo.admin) as api:
            assert api.whoami().role == "admin"

    def test_catalog_offers_quote_and_availability(self, demo: DemoServer) -> None:
        with client(demo.url, demo.renter) as api:
            models = {m.name: m for m in api.gpu_models()}
            assert models["A100-80GB"].classification == "3A090.a"
            assert api.gpu_model("A30").classification_paragraphs == ["3A090.b.1"]
            assert {o.gpu_model for o in api.offers()} >= {"A100-80GB", "H100-SXM"}
            quote = api.quote(QuoteRequest(gpu_model="A100-80GB", gpus=8, hours=Decimal(1)))
            assert quote.total == Decimal("10.00")
            windows = api.availability("A100-80GB", 2, Decimal(1), limit=2)
            assert windows
            assert all(len(w.gpu_addresses) == 2 for w in windows)
            assert windows[0].quote is not None
            assert api.limits().lease_max_hours == 9600
            assert api.call("GET", "/v1/limits")["lease_max_hours"] == 9600

    def test_gpus_page_by_page_match_one_listing(self, demo: DemoServer) -> None:
        with client(demo.url, demo.admin) as api:
            whole = api.gpus(limit=10_000)
            paged = list(api.iter_gpus(page_size=7))
            assert whole.total == len(whole.items) > 7
            assert [g.id for g in paged] == [g.id for g in whole.items]
            first = whole.items[0]
            assert api.gpu(first.address).id == first.id  # node/index, resolved
            assert api.gpu(first.serial).id == first.id
            assert {n.facility for n in api.nodes()} == {f.name for f in api.facilities()}


class TestCompliance:
    def test_screening_lists_records_reviews_and_the_audit_log(self, demo: DemoServer) -> None:
        with client(demo.url, demo.compliance) as api:
            hit = api.screen(ScreeningQuery(name="IFLYTEK CO., LTD."))
            assert any(m.is_match for m in hit.matches)
            (batch,) = api.screen_batch([ScreeningQuery(name="Ke Da Xun Fei")]).results
            assert batch.matches
            assert api.lists()
            orgs = {o.name: o for o in api.organizations()}
            assert api.organization(RENTER).id == orgs[RENTER].id
            assert api.standing(orgs[RENTER].id).decision == "allow"
            (case,) = [r for r in api.reviews(status=None) if r.kind == "lease"]
            detail = api.review(case.id)
            assert detail.reasons
            assert detail.lease_id == case.lease_id
            verified = api.audit_verify()
            assert verified["intact"] is True
            exported = api.audit_export().splitlines()
            assert len(exported) >= verified["records"] > 0
        with client(demo.url, demo.renter) as api:
            (own,) = api.organizations()
            assert own.name == RENTER
            assert api.dossier(own.id)["legal_name"]


class TestBooking:
    def test_a_retried_booking_books_once(self, demo: DemoServer) -> None:
        request = LeaseRequest(gpu_model="H20", gpus=1, hours=Decimal(1))
        with client(demo.url, demo.renter) as api:
            first = api.create_lease(request, idempotency_key="client-test-once")
            again = api.create_lease(request, idempotency_key="client-test-once")
            assert again.id == first.id
            other = LeaseRequest(gpu_model="H20", gpus=2, hours=Decimal(1))
            with pytest.raises(ConflictError) as refused:
                api.create_lease(other, idempotency_key="client-test-once")
            assert refused.value.status_code == 409
            # Without a key of the caller's, each booking gets its own.
            a, b = api.create_lease(request), api.create_lease(request)
            assert len({first.id, a.id, b.id}) == 3
            for lease in (first, a, b):
                assert api.release_lease(lease.id).status == LeaseStatus.ENDED

    def test_leases_page_through_everything_and_only_ones_own(self, demo: DemoServer) -> None:
        request = LeaseRequest(gpu_model="H20", gpus=1, hours=Decimal(1))
        with client(demo.url, demo.renter) as api:
            booked = [api.create_lease(request) for _ in range(3)]
            page = api.leases(limit=2)
            every = list(api.iter_leases(page_size=2))
            assert len(page.items) == 2
            assert page.total == len(every) >= 3
            assert {lease.id for lease in booked} <= {lease.id for lease in every}
            extended = api.extend_lease(booked[0].id, EndChange(hours=Decimal(1)))
            assert extended.end > booked[0].end
            assert [e.kind for e in api.lease_events(booked[0].id)] == ["created", "extended"]
            for lease in booked:
                api.release_lease(lease.id)
        other = next(name for name in demo.renters if name != RENTER)
        with client(demo.url, demo.renters[other]) as api:
            seen = {lease.id for lease in api.iter_leases()}
            assert not seen & {lease.id for lease in booked}
            with pytest.raises(NotFoundError):
                api.lease(booked[0].id)  # another organization's lease does not exist

    def test_a_job_runs_and_its_output_follows(self, demo: DemoServer) -> None:
        with client(demo.url, demo.renter) as api:
            lease = api.create_lease(LeaseRequest(gpu_model="A100-80GB", gpus=2, hours=Decimal(1)))
            job = api.submit_job(
                lease.id, JobIn(command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"], gpus=2)
            )
            text = "".join(api.follow_logs(job.id, interval=0.1))
            assert text.strip().split(",") == [str(i) for i in api.job(job.id).gpu_indices]
            assert api.job(job.id).status == "succeeded"
            assert [j.id for j in api.jobs(lease.id)] == [job.id]
            (row,) = api.usage(lease.id)
            assert row["lease_id"] == lease.id
            assert row["jobs"][0]["job_id"] == job.id
            api.release_lease(lease.id)


class TestErrors:
    def test_the_servers_code_msg_and_fields_arrive(self, demo: DemoServer) -> None:
        with client(demo.url, demo.renter) as api:
            with pytest.raises(NotFoundError) as missing:
                api.lease(9_000_000)
            assert missing.value.items[0].code == "not_found"
            assert missing.value.message == "no lease 9000000"
            with pytest.raises(InvalidInputError) as invalid:
                api.availability("A100-80GB", 1, Decimal(0))
            assert invalid.value.status_code == 422
            assert invalid.value.items[0].fields == ["query.hours"]
            with pytest.raises(ForbiddenError) as forbidden:
                api.facilities()
            assert forbidden.value.items[0].msg == "a renter may not fleet:read"
            with pytest.raises(ForbiddenError):
                api.clear(1, ClearanceIn(entry_id="x", reason="a renter clears itself"))
        with client(demo.url, "gpr_not-a-token") as api, pytest.raises(UnauthenticatedError):
            api.offers()

    def test_no_server_is_one_error_after_the_retries(self) -> None:
        slept: list[float] = []
        api = GpurentClient(f"http://127.0.0.1:{free_port()}", "t", sleep=slept.append)
        with pytest.raises(ConnectionFailedError) as failed:
            api.offers()
        assert isinstance(failed.value, GpurentError)
        assert slept == [0.5, 1.0, 2.0]


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests, then 200; records what it got."""

    failures = 2
    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Flaky.seen.append((self.command, self.path, self.headers.get("Idempotency-Key")))
        status = 503 if len(Flaky.seen) <= Flaky.failures else 200
        body: Any = {"detail": [{"code": "busy", "msg": "try again", "fields": []}]}
        if status == 200:
            body = [] if self.command == "GET" else {"id": 1}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class TestRetries:
    def test_gets_are_retried_through_503s(self, flaky: str) -> None:
        with client(flaky, "t") as api:
            assert api.offers() == []
        assert [s[0] for s in Flaky.seen] == ["GET", "GET", "GET"]

    def test_a_booking_is_retried_under_one_key(self, flaky: str) -> None:
        with client(flaky, "t") as api, pytest.raises(GpurentError):
            api.create_lease(LeaseRequest(gpu_model="H20", gpus=1, hours=Decimal(1)))
        keys = {key for _method, _path, key in Flaky.seen}
        assert len(Flaky.seen) == 3
        assert len(keys) == 1
        assert None not in keys

    def test_other_writes_are_not_repeated(self, flaky: str) -> None:
        with client(flaky, "t") as api, pytest.raises(ServerError) as failed:
            api.release_lease(1)
        assert len(Flaky.seen) == 1
        assert failed.value.items[0].code == "busy"
