"""Settings: production refuses development secrets and the embedded database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import DEVELOPMENT_SECRET_FILE, Settings

REAL_SECRET = "k" * 40
URI = "mongodb://db1,db2,db3/?replicaSet=rs0"


@pytest.mark.parametrize(
    ("secret", "uri", "complaint"),
    [
        ("", URI, "ENGAGE_SECRET_KEY"),
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


def test_production_needs_an_https_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.setenv("ENGAGE_SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("ENGAGE_MONGODB_URI", URI)
    monkeypatch.setenv("ENGAGE_BASE_URL", "http://engage.example.com")
    with pytest.raises(ValidationError, match="ENGAGE_BASE_URL must be an https"):
        Settings()


def test_production_starts_with_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.setenv("ENGAGE_SECRET_KEY", REAL_SECRET)
    monkeypatch.setenv("ENGAGE_MONGODB_URI", URI)
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://engage.example.com/")
    settings = Settings()
    assert (settings.env, settings.mongodb_uri) == ("production", URI)
    assert settings.public_base_url == "https://engage.example.com"


def test_development_defaults_to_the_embedded_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
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


def test_development_generates_its_secret_once_and_keeps_it(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "var")
    second = Settings(data_dir=tmp_path / "var")
    other = Settings(data_dir=tmp_path / "elsewhere")
    assert first.uses_development_secret
    assert len(first.secret_key) >= 32
    assert second.secret_key == first.secret_key
    assert other.secret_key != first.secret_key
    key_file = tmp_path / "var" / DEVELOPMENT_SECRET_FILE
    assert key_file.read_text().strip() == first.secret_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    given = Settings(data_dir=tmp_path / "given", secret_key="g" * 40)
    assert not given.uses_development_secret
    assert not (tmp_path / "given").exists()


def test_engage_serve_refuses_a_public_address_with_the_development_secret(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "ENGAGE_DATA_DIR": str(tmp_path / "var")}
    for name in ("ENGAGE_SECRET_KEY", "ENGAGE_ENV", "ENGAGE_MONGODB_URI"):
        env.pop(name, None)
    engage = str(Path(sys.executable).parent / "engage")
    finished = subprocess.run(
        [engage, "serve", "--host", "0.0.0.0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [
        "engage: serving on 0.0.0.0 needs ENGAGE_SECRET_KEY (at least 32 random characters); "
        "the generated development key is for 127.0.0.1 only"
    ]
    assert not (tmp_path / "var" / "db").exists()
