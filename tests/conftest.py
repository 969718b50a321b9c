"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated to head.

Each test gets a fresh database copied from a template migrated once per run: a file copy
on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. PostgreSQL tests skip when it
is unreachable, unless GPURENT_REQUIRE_POSTGRES=1 (set by CI), where they fail instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.api.app import create_app
from gpurent.bootstrap import prepare_database
from gpurent.config import Settings
from gpurent.db.engine import make_engine, make_session_factory
from gpurent.errors import NotFoundError

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_counter = itertools.count()


def postgres_admin_url() -> str:
    return os.environ.get("GPURENT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates and drops throwaway databases on the PostgreSQL server under test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"gpurent_t{os.getpid()}"

    def _execute(self, sql: str) -> None:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as connection:
            connection.execute(sql)

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{next(_counter)}"
        clause = f" TEMPLATE {template}" if template else ""
        self._execute(f"CREATE DATABASE {name}{clause}")
        return name

    def drop(self, name: str) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_admin_url())
    try:
        databases._execute("SELECT 1")
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {postgres_admin_url()}: {exc}"
        if os.environ.get("GPURENT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (GPURENT_REQUIRE_POSTGRES=1: PostgreSQL tests may not skip)")
        pytest.skip(reason)
    return databases


@pytest.fixture(scope="session")
def lists_dir() -> Path:
    """The real restricted-party list files (../shared/data/lists), read in place."""
    value = os.environ.get("GPURENT_LISTS_DIR")
    reason = "GPURENT_LISTS_DIR is not set: tests on the real list files need it"
    if value and not (Path(value) / "SOURCES.md").is_file():
        reason = f"GPURENT_LISTS_DIR={value} holds no list files (SOURCES.md missing)"
        value = None
    if not value:
        if os.environ.get("GPURENT_REQUIRE_LISTS") == "1":
            pytest.fail(f"{reason} (GPURENT_REQUIRE_LISTS=1: these tests may not skip)")
        pytest.skip(reason)
    return Path(value)


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresDatabases) -> Iterator[str]:
    name = postgres.create()
    engine = make_engine(postgres.url_for(name))
    prepare_database(engine)
    engine.dispose()
    yield name
    postgres.drop(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest schema, with the built-in catalog."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create(template=request.getfixturevalue("postgres_template"))
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create()
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The API as the operator's administrator (the tests of access rights make their own)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=str(engine.url))
    with TestClient(create_app(settings, engine=engine)) as test_client:
        token = make_token(engine, "Operator", "operator", "admin", Role.ADMIN)
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def make_token(engine: Engine, org: str, kind: str, user: str, role: Role) -> str:
    """A token for `user` (and its organization, created when missing)."""
    with make_session_factory(engine)() as session:
        try:
            organization = accounts.get_organization(session, org)
        except NotFoundError:
            session.rollback()
            organization = accounts.create_organization(session, org, kind, "US", actor="test")
        return accounts.create_token(session, organization, user, role, actor="test")


JOB_WORKSPACES = Path("/var/lib/gpurent-tests")  # job users must pass through every parent


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads or writes the real per-user data directory, nor another test's job
    workspaces (kept outside tmp_path, whose parents are closed to the job users)."""
    monkeypatch.setenv("GPURENT_DATA_DIR", str(tmp_path / "gpurent-data"))
    monkeypatch.delenv("GPURENT_DATABASE_URL", raising=False)
    monkeypatch.setenv("GPURENT_CONFIG_DIR", str(tmp_path / "gpurent-config"))  # no profile
    monkeypatch.delenv("GPURENT_URL", raising=False)
    monkeypatch.delenv("GPURENT_TOKEN", raising=False)
    if os.geteuid() != 0:
        yield
        return
    JOB_WORKSPACES.mkdir(mode=0o755, exist_ok=True)
    workspaces = Path(tempfile.mkdtemp(prefix="ws-", dir=JOB_WORKSPACES))
    workspaces.chmod(0o711)
    monkeypatch.setenv("GPURENT_JOB_WORKSPACE_DIR", str(workspaces))
    yield
    shutil.rmtree(workspaces, ignore_errors=True)
