"""Settings: defaults, the key file, refusing placeholder secrets, and docs kept true."""

from __future__ import annotations

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


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"DATADESK_{name.upper()}" in readme, f"DATADESK_{name.upper()} is not documented in README.md"
