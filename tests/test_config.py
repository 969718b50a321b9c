"""Settings come from GPURENT_* variables; paths are derived when asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpurent.config import load_settings


class TestSettings:
    def test_default_database_is_sqlite_in_the_data_dir(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data_dir = tmp_path / "not-yet"
        monkeypatch.setenv("GPURENT_DATA_DIR", str(data_dir))
        settings = load_settings()
        assert not data_dir.exists()  # nothing is created by reading settings
        assert settings.resolved_database_url() == f"sqlite:///{data_dir}/gpurent.db"
        assert data_dir.is_dir()
        assert settings.demo_token_path() == data_dir / "demo-token"

    def test_database_url_selects_postgresql(self, monkeypatch: pytest.MonkeyPatch) -> None:
        url = "postgresql+psycopg://u@db.example/gpurent"
        monkeypatch.setenv("GPURENT_DATABASE_URL", url)
        assert load_settings().resolved_database_url() == url

    def test_per_user_default(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv("GPURENT_DATA_DIR")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert load_settings().resolved_data_dir() == tmp_path / "xdg" / "gpurent"

    def test_bad_port_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GPURENT_PORT", "70000")
        with pytest.raises(ValueError, match="port"):
            load_settings()
