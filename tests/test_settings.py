"""Settings: defaults, the key file, refusing placeholder secrets, and docs kept true."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from datadesk.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATADESK_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATADESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATADESK_HOME", str(tmp_path / "h"))
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'h' / 'datadesk.db'}"
    key_file = tmp_path / "h" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.secret_key == key_file.read_text().strip()
    assert Settings().secret_key == settings.secret_key  # read back, not regenerated


@pytest.mark.parametrize("value", ["", "   ", "changethis", "ChangeMe", "secret", "short"])
def test_placeholder_or_empty_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DATADESK_HOME", str(tmp_path))
    monkeypatch.setenv("DATADESK_SECRET_KEY", value)
    with pytest.raises(ValidationError, match="DATADESK_SECRET_KEY"):
        Settings()


def test_explicit_secret_and_url_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADESK_HOME", str(tmp_path))
    monkeypatch.setenv("DATADESK_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("DATADESK_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.secret_key == "a-real-secret-of-some-length"
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert not (tmp_path / "secret.key").exists()


def test_sources_settings_default_under_home_and_parse_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADESK_HOME", str(tmp_path))
    monkeypatch.setenv("DATADESK_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.delenv("DATADESK_SOURCES_DIR", raising=False)
    monkeypatch.delenv("DATADESK_SOURCES_HOSTS", raising=False)
    settings = Settings()
    assert settings.sources_dirs == [tmp_path.resolve() / "sources"] and settings.sources_host_patterns == []
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setenv("DATADESK_SOURCES_DIR", os.pathsep.join([str(tmp_path / "link"), " ", "/srv/b "]))
    monkeypatch.setenv("DATADESK_SOURCES_HOSTS", " *.Internal , db1.example.com,")
    settings = Settings()
    assert settings.sources_dirs == [tmp_path.resolve() / "real", Path("/srv/b")]
    assert settings.sources_host_patterns == ["*.internal", "db1.example.com"]


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"DATADESK_{name.upper()}" in readme, f"DATADESK_{name.upper()} is not documented in README.md"
