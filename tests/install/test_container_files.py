"""The Dockerfile, .dockerignore and docker-compose.yml, read as Docker would read them (no
Docker engine runs here): the fields the deployment relies on."""

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import PROJECT_ROOT, Settings

MEMBERS = ("mongo1", "mongo2", "mongo3")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments left out."""
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def image_environment() -> dict[str, str]:
    environment: dict[str, str] = {}
    for instruction, arguments in dockerfile():
        if instruction == "ENV":
            environment.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return environment


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_dependencies_install_in_their_own_layer_before_the_code() -> None:
    steps = dockerfile()
    copies = [arguments for instruction, arguments in steps if instruction == "COPY"]
    runs = [i for i, (instruction, _) in enumerate(steps) if instruction == "RUN"]
    first_code = next(i for i, step in enumerate(steps) if step == ("COPY", "api api"))
    dependencies = next(i for i in runs if "requirements.txt" in steps[i][1])
    assert copies[0] == "pyproject.toml ./"
    assert dependencies < first_code
    assert {"api api", "schema schema", "domain domain", "delivery delivery"} <= set(copies)
    assert "templates templates" in copies


def test_the_dependency_layer_installs_exactly_the_projects_dependencies(tmp_path: Path) -> None:
    (command,) = [
        arguments
        for instruction, arguments in dockerfile()
        if instruction == "RUN" and "requirements.txt" in arguments
    ]
    listing = command.split(" > requirements.txt")[0]
    (tmp_path / "pyproject.toml").write_bytes((PROJECT_ROOT / "pyproject.toml").read_bytes())
    printed = subprocess.run(
        [sys.executable, *shlex.split(listing)[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert [line for line in printed if line] == declared["project"]["dependencies"]


def test_the_image_runs_production_as_a_user_with_a_healthcheck() -> None:
    steps = dockerfile()
    environment = image_environment()
    assert environment["ENGAGE_ENV"] == "production"
    assert environment["ENGAGE_HOST"] == "0.0.0.0"
    users = [arguments for instruction, arguments in steps if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_run = max(i for i, (instruction, _) in enumerate(steps) if instruction == "RUN")
    assert steps.index(("USER", users[-1])) > last_run
    (healthcheck,) = [arguments for instruction, arguments in steps if instruction == "HEALTHCHECK"]
    assert "/health" in healthcheck
    assert ("CMD", '["engage", "serve"]') in steps


def test_the_build_context_leaves_out_what_a_checkout_accumulates() -> None:
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".mypy_cache", ".ruff_cache", ".pytest_cache"} <= ignored
    assert "**/__pycache__" in ignored


def test_compose_starts_and_initiates_a_three_member_replica_set(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for member in MEMBERS:
        service = services[member]
        assert service["command"][:3] == ["mongod", "--replSet", "rs0"]
        assert "--bind_ip_all" in service["command"]
        assert service["volumes"] == [f"{member}:/data/db"]
        assert member in compose["volumes"]
    initiation = services["mongo-init"]
    assert set(initiation["depends_on"]) == set(MEMBERS)
    script = initiation["command"][-1]
    assert 'rs.initiate({_id: "rs0"' in script
    assert re.findall(r'host: "(mongo\d):27017"', script) == list(MEMBERS)


def test_compose_runs_one_api_and_one_worker_on_the_replica_set(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api, worker = services["api"], services["worker"]
    assert api["command"] == ["engage", "serve"]
    assert worker["command"] == ["engage", "worker"]
    assert api["build"] == worker["build"] == "."
    assert api["environment"]["ENGAGE_RUN_WORKER"] == "false"
    assert worker["healthcheck"] == {"disable": True}
    for service in (api, worker):
        environment = service["environment"]
        assert service["depends_on"]["mongo-init"]["condition"] == (
            "service_completed_successfully"
        )
        uri = environment["ENGAGE_MONGODB_URI"]
        assert all(f"{member}:27017" in uri for member in MEMBERS)
        assert "replicaSet=rs0" in uri and "w=majority" in uri
        # Compose refuses to start without them, with the message after ':?'.
        assert environment["ENGAGE_SECRET_KEY"].startswith("${ENGAGE_SECRET_KEY:?")
        assert environment["ENGAGE_BASE_URL"].startswith("${ENGAGE_BASE_URL:?")
        data_volume = service["volumes"][0].split(":")
        assert data_volume == ["engage-data", image_environment()["ENGAGE_DATA_DIR"]]
    assert "engage-data" in compose["volumes"]


def test_the_compose_settings_are_valid_production_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {"ENGAGE_SECRET_KEY": "s" * 48, "ENGAGE_BASE_URL": "https://engage.example.com"}
    for name in [name for name in os.environ if name.startswith("ENGAGE_")]:
        monkeypatch.delenv(name)
    for name, value in {**image_environment(), **compose["services"]["api"]["environment"]}.items():
        monkeypatch.setenv(name, given.get(name, value))
    settings = Settings()
    assert settings.env == "production"
    assert settings.run_worker is False
    assert settings.data_dir == Path("/data")


def test_production_without_a_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ENGAGE_")}
    env |= {
        "ENGAGE_ENV": "production",
        "ENGAGE_SECRET_KEY": "s" * 48,
        "ENGAGE_BASE_URL": "https://engage.example.com",
    }
    engage = str(Path(sys.executable).parent / "engage")
    finished = subprocess.run(
        [engage, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [
        "engage: invalid settings: ENGAGE_MONGODB_URI must be set in production"
    ]
