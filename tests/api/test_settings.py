"""Settings: production refuses development secrets and the embedded database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import DEVELOPMENT_SECRET_KEY, Settings

REAL_SECRET = "k" * 40
URI = "mongodb://db1,db2,db3/?replicaSet=rs0"


@pytest.mark.parametrize(
    ("secret", "uri", "complaint"),
    [
        (DEVELOPMENT_SECRET_KEY, URI, "ENGAGE_SECRET_KEY"),
        ("short-secret", URI, "ENGAGE_SECRET_KEY"),
        (REAL_SECRET, None, "ENGAGE_MONGODB_URI"),
    ],
)
def test_production_refuses_development_settings(
    monkeypatch: pytest.MonkeyPatch, secret: str, uri: str | None, complaint: str
) -> None:
    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.setenv("ENGAGE_SECRET_KEY", secret)
    if uri:
        monkeypatch.setenv("ENGAGE_MONGODB_URI", uri)
    else:
        monkeypatch.delenv("ENGAGE_MONGODB_URI", raising=False)
    with pytest.raises(ValidationError, match=complaint):
        Settings()


def test_production_starts_with_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.setenv("ENGAGE_SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("ENGAGE_MONGODB_URI", URI)
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://engage.example.com/")
    settings = Settings()
    assert (settings.env, settings.mongodb_uri) == ("production", URI)
    assert settings.public_base_url == "https://engage.example.com"


def test_development_defaults_to_the_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENGAGE_ENV", "ENGAGE_SECRET_KEY", "ENGAGE_MONGODB_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.env, settings.mongodb_uri) == ("development", None)


def test_engage_serve_refuses_development_secrets_in_production(tmp_path: Path) -> None:
    env = {**os.environ, "ENGAGE_ENV": "production", "ENGAGE_MONGODB_URI": URI}
    env.pop("ENGAGE_SECRET_KEY", None)
    engage = str(Path(sys.executable).parent / "engage")
    finished = subprocess.run(
        [engage, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 1
    assert "ENGAGE_SECRET_KEY must be set" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert not (tmp_path / "var").exists()
