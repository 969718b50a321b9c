"""Running the lifecycle steps on a timer, in a thread or in the foreground."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import Engine

from gpurent.audit import service as audit
from gpurent.compliance import reviews
from gpurent.config import Settings
from gpurent.db.engine import make_session_factory, session_scope
from gpurent.jobs.backends import backends_for
from gpurent.jobs.runner import run_jobs
from gpurent.leases.index import FleetCache
from gpurent.leases.lifecycle import LifecycleReport, run_due
from gpurent.timeutil import utcnow

log = logging.getLogger("gpurent.worker")


class Worker:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._factory = make_session_factory(engine)
        self._interval = settings.worker_interval_seconds
        self._notice = timedelta(minutes=settings.lease_notice_minutes)
        self._stop = threading.Event()
        self._fleet = FleetCache()
        self._job_root = settings.resolved_data_dir() / "jobs"
        self._backends = backends_for(settings)
        self._grace = timedelta(seconds=settings.job_grace_seconds)

    def run_once(self) -> LifecycleReport:
        with session_scope(self._factory) as session:
            report = run_due(session, utcnow(), self._notice, self._fleet)
            jobs = run_jobs(session, self._backends, self._job_root, utcnow(), self._grace)
            if jobs.started or jobs.finished:
                log.info("jobs started %s, finished %s", jobs.started, jobs.finished)
            expired = reviews.expire_due(session)
            if expired:
                log.info("reviews expired without a decision: %s", expired)
            # Chain what was appended to the audit log since the last round.
            audit.seal(session)
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
