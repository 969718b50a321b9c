"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text

from gpurent import __version__
from gpurent.accounts.routes import router as accounts_router
from gpurent.api.body_limit import BodyLimit
from gpurent.api.errors import install_error_handlers
from gpurent.api.metrics import make_registry
from gpurent.api.openapi import install_openapi
from gpurent.audit.routes import router as audit_router
from gpurent.billing.routes import router as billing_router
from gpurent.bootstrap import prepare_database
from gpurent.catalog.routes import router as catalog_router
from gpurent.compliance.routes import router as compliance_router
from gpurent.config import Settings, load_settings
from gpurent.db.engine import make_engine, make_session_factory, session_scope
from gpurent.fleet.routes import router as fleet_router
from gpurent.jobs.routes import router as jobs_router
from gpurent.leases.index import AvailabilityIndex, FleetCache
from gpurent.leases.routes import router as leases_router
from gpurent.lists.routes import router as lists_router
from gpurent.offers.routes import router as offers_router
from gpurent.worker.runner import Worker


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, worker: bool = False
) -> FastAPI:
    """Build the app; the database is migrated when the app starts, not here.

    With ``worker``, the lifecycle worker runs in a thread while the app is up.
    """
    settings = settings or load_settings()
    engine = engine or make_engine(settings.resolved_database_url())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        prepare_database(engine)
        runner = Worker(engine, settings) if worker else None
        if runner:
            runner.start_thread()
        yield
        if runner:
            runner.stop()

    app = FastAPI(
        title="gpurent",
        version=__version__,
        summary="Control plane for GPU rental clouds, with export-control compliance",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.metrics_registry = make_registry(app.state.session_factory)
    app.state.fleet_cache = FleetCache()
    app.state.availability_index = AvailabilityIndex(app.state.fleet_cache)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.get("/healthz", tags=["system"])
    def healthz(request: Request) -> dict[str, str]:
        with session_scope(request.app.state.session_factory) as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["system"], response_class=Response)
    def metrics(request: Request) -> Response:
        body = generate_latest(request.app.state.metrics_registry)
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    app.include_router(catalog_router)
    app.include_router(fleet_router)
    app.include_router(offers_router)
    app.include_router(leases_router)
    app.include_router(lists_router)
    app.include_router(accounts_router)
    app.include_router(compliance_router)
    app.include_router(audit_router)
    app.include_router(jobs_router)
    app.include_router(billing_router)
    return app


def app_from_environment() -> FastAPI:
    """The app as ``gpurent serve`` runs it, in each of its processes."""
    settings = load_settings()
    return create_app(settings, worker=settings.worker_in_server)
