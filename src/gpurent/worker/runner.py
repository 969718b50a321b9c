"""Running the lifecycle steps on a timer, in a thread or in the foreground."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gpurent.audit import service as audit
from gpurent.billing import service as billing
from gpurent.compliance import redecide, reviews
from gpurent.compliance.gate import policy_for
from gpurent.config import Settings
from gpurent.db.engine import make_session_factory, session_scope
from gpurent.jobs.backends import backends_for
from gpurent.jobs.runner import run_jobs
from gpurent.jobs.sandbox.lifecycle import SandboxPolicy
from gpurent.leases.index import FleetCache
from gpurent.leases.lifecycle import LifecycleReport, run_due
from gpurent.timeutil import utcnow

log = logging.getLogger("gpurent.worker")
T = TypeVar("T")


class Worker:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._factory = make_session_factory(engine)
        self._interval = settings.worker_interval_seconds
        self._notice = timedelta(minutes=settings.lease_notice_minutes)
        self._stop = threading.Event()
        self._fleet = FleetCache()
        self._job_root = settings.job_records_dir()
        self._sandbox = SandboxPolicy.of(settings)
        self._backends = backends_for(settings)
        self._grace = timedelta(seconds=settings.job_grace_seconds)
        self._checkpoints = audit.Checkpoints()  # the chain's state, outside the database
        self._settings = settings
        self._standings_stale = True  # until a round finds none decided the old way

    def run_once(self) -> LifecycleReport:
        """One round. Each step runs on its own: a step that raises is logged and the others
        still run, so that one bad row never stalls every tenant's leases, jobs and reviews."""
        report = LifecycleReport()
        with session_scope(self._factory) as session:
            found = self._step(
                session, "leases", run_due, session, utcnow(), self._notice, self._fleet
            )
            report = found or report
            jobs = self._step(
                session, "jobs", run_jobs, session, self._backends, self._job_root, utcnow(),
                self._grace, self._sandbox,
            )  # fmt: skip
            if jobs and (jobs.started or jobs.finished):
                log.info("jobs started %s, finished %s", jobs.started, jobs.finished)
            expired = self._step(session, "reviews", reviews.expire_due, session)
            if expired:
                log.info("reviews expired without a decision: %s", expired)
            if self._standings_stale:
                self._step(session, "standings", self._redecide_stale, session)
            self._step(session, "billing", billing.worker_round, session, utcnow())
            # Chain what was appended to the audit log since the last round.
            self._step(session, "audit", audit.seal, session)
            self._step(session, "checkpoint", self._checkpoints.write_if_due, session, utcnow())
        if report.total:
            log.info(
                "leases started %s, ended %s, warned %s, moved %s, flagged %s",
                report.started,
                report.ended,
                report.notified,
                report.replaced,
                report.flagged,
            )
        return report

    def _redecide_stale(self, session: Session) -> None:
        """After an upgrade that changed the ownership method or the policy version, the
        standings decided the old way are decided again, once (a batch per round)."""
        settings = self._settings
        report = redecide.redecide_stale(
            session,
            policy_for(settings),
            settings.screening_threshold,
            hold=timedelta(hours=settings.review_hold_hours),
            actor="worker",
        )
        if report.decided:
            log.info("standings decided again: %s, changed %s", report.decided, report.changed)
        self._standings_stale = report.remaining > 0

    @staticmethod
    def _step(session: Session, name: str, step: Callable[..., T], *args: Any) -> T | None:
        try:
            return step(*args)
        except Exception:
            session.rollback()
            log.exception("worker step %s failed; the next round retries it", name)
            return None

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad round must not stop the worker; the next one retries
                log.exception("lifecycle round failed")
            self._stop.wait(self._interval)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="gpurent-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
