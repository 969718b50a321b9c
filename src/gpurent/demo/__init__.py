"""The demo: a fleet to explore every feature on, and an administrator token."""

from __future__ import annotations

import os
import secrets
from importlib import resources
from pathlib import Path

from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts_service
from gpurent.config import Settings
from gpurent.demo.customers import load_customers, write_tokens
from gpurent.fleet import service as fleet_service
from gpurent.fleet.fleetfile import parse_fleet_text
from gpurent.fleet.importer import import_fleet
from gpurent.fleet.schemas import ImportReport
from gpurent.lists import service as lists_service

DEMO_ACTOR = "demo"
RENTER_TOKENS_FILE = "demo-tokens.json"  # the other demo users' tokens, beside demo-token


def demo_fleet_text() -> str:
    return (resources.files("gpurent.demo") / "fleet.yaml").read_text(encoding="utf-8")


def load_demo(
    session: Session, token_path: Path, settings: Settings | None = None
) -> ImportReport | None:
    """Load the demo fleet, the bundled list excerpt and the demo's organizations into an
    empty database. Returns None if the database already has GPUs (nothing is loaded)."""
    settings = settings or Settings()
    token = write_demo_token(token_path)
    if fleet_service.count_gpus(session) > 0:
        return None
    document = parse_fleet_text(demo_fleet_text(), "demo/fleet.yaml")
    report = import_fleet(session, document, actor=DEMO_ACTOR)
    if not lists_service.current_versions(session):
        session.rollback()
        lists_service.import_lists(session, [lists_service.read_bundled()], DEMO_ACTOR)
    if not accounts_service.list_organizations(session):
        tokens = load_customers(session, settings, token)
        write_tokens(token_path.with_name(RENTER_TOKENS_FILE), tokens)
    return report


def write_demo_token(path: Path) -> str:
    """The administrator token of the demo; kept if it already exists."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = f"gpr_{secrets.token_urlsafe(32)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
