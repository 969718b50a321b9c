"""Remote mode: profiles (a server's URL and a token) in the user's config directory.

``gpurent login URL --token T`` stores a profile and puts it in use; from then on every
command that has an API operation goes through ``gpurent.client`` with that token's
permissions. ``GPURENT_URL`` and ``GPURENT_TOKEN`` override the profile in use. With
neither, commands act locally, on the server's own database, as an administrator.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_config_path

from gpurent.errors import InvalidInputError

PROFILES_FILE = "profiles.json"


def config_dir() -> Path:
    """``GPURENT_CONFIG_DIR``, else the per-user config directory (~/.config/gpurent)."""
    value = os.environ.get("GPURENT_CONFIG_DIR")
    return Path(value) if value else user_config_path("gpurent")


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    token: str
    identity: str = ""  # who the token was at login (user@organization, role)


@dataclass(frozen=True)
class Remote:
    """The server this command talks to, and where that choice came from."""

    url: str
    token: str | None
    source: str  # "profile NAME" or "GPURENT_URL"


class ProfileStore:
    """``profiles.json``: ``{"current": NAME | null, "profiles": {NAME: {...}}}``, 0600."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or config_dir()) / PROFILES_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"current": None, "profiles": {}}
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            raise InvalidInputError(f"{self.path}: not a gpurent profiles file")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        # Created 0600 from the start: the tokens are never readable by others.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def profiles(self) -> list[Profile]:
        data = self._read()
        return [Profile(name=name, **fields) for name, fields in sorted(data["profiles"].items())]

    def current(self) -> Profile | None:
        data = self._read()
        name = data.get("current")
        fields = data["profiles"].get(name) if isinstance(name, str) else None
        return Profile(name=str(name), **fields) if fields else None

    def save(self, profile: Profile) -> None:
        """Store the profile (replacing one of the same name) and put it in use."""
        data = self._read()
        data["profiles"][profile.name] = {
            "url": profile.url,
            "token": profile.token,
            "identity": profile.identity,
        }
        data["current"] = profile.name
        self._write(data)

    def use(self, name: str | None) -> None:
        data = self._read()
        if name is not None and name not in data["profiles"]:
            raise InvalidInputError(f"no profile {name!r} (gpurent profile list)")
        data["current"] = name
        self._write(data)

    def remove(self, name: str) -> None:
        data = self._read()
        if data["profiles"].pop(name, None) is None:
            raise InvalidInputError(f"no profile {name!r} (gpurent profile list)")
        if data.get("current") == name:
            data["current"] = None
        self._write(data)


def active_remote() -> Remote | None:
    """The server commands go to, or None: they act locally."""
    url = os.environ.get("GPURENT_URL", "").strip()
    token = os.environ.get("GPURENT_TOKEN", "").strip() or None
    if url:
        return Remote(url=url, token=token, source="GPURENT_URL")
    profile = ProfileStore().current()
    if profile is not None:
        return Remote(
            url=profile.url, token=token or profile.token, source=f"profile {profile.name}"
        )
    if token:
        raise InvalidInputError(
            "GPURENT_TOKEN is set but no server is: set GPURENT_URL, or gpurent login URL"
        )
    return None
