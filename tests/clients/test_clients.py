"""The typed clients in clients/: they are what scripts/generate-clients makes from the code,
and each README's validate-and-redeem example runs against a real `engage serve`."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.test_serve import Service

# Nothing here reads the session's database: the drift check compares files, and the examples
# run against an `engage serve` of their own on its embedded database. One engine is enough.
pytestmark = pytest.mark.embedded_only(
    reason="the clients run against their own `engage serve`; the drift check reads no database"
)

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
PYTHON_EXAMPLE = CLIENTS / "python" / "examples" / "validate_and_redeem.py"
TS_EXAMPLE = CLIENTS / "typescript" / "examples" / "validate-and-redeem.ts"
# Installs the code generators when missing (stamped, so once), then makes the clients.
GENERATE = ROOT / "scripts" / "generate-clients"


def run(command: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "ENGAGE_PYTHON": sys.executable, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def generated() -> subprocess.CompletedProcess[str]:
    """One run of `scripts/generate-clients --check`, which also installs the generators and
    the TypeScript client's packages when they are missing."""
    return run([str(GENERATE), "--check"])


def test_committed_clients_are_what_the_script_generates(
    generated: subprocess.CompletedProcess[str],
) -> None:
    assert generated.returncode == 0, generated.stderr


@pytest.mark.parametrize("example", [PYTHON_EXAMPLE, TS_EXAMPLE], ids=["python", "typescript"])
def test_readme_shows_the_example_that_runs(example: Path) -> None:
    readme = (example.parent.parent / "README.md").read_text()
    assert example.read_text() in readme


@dataclass
class Till:
    service: Service
    key: str
    code: str


@pytest.fixture(scope="module")
def till(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Till]:
    """`engage serve` on its embedded database, with a code for 15% off and a POS key."""
    service = Service(tmp_path_factory.mktemp("serve") / "var")
    service.start()
    try:
        admin = (service.data_dir / "admin-key").read_text().strip()
        created = service.graphql(
            admin,
            'mutation { createCampaign(input: {name: "Welcome", standaloneCode: "WELCOME-15",'
            " discount: {type: PERCENT, percentOff: 15}}) { errors { code message } } }",
        )
        assert created["createCampaign"]["errors"] == []
        pos = service.graphql(
            admin, 'mutation { createApiKey(role: POS, name: "till") { secret errors { code } } }'
        )
        yield Till(service=service, key=pos["createApiKey"]["secret"], code="WELCOME-15")
    finally:
        # Killed rather than stopped: nothing here needs a clean stop, and its database dies
        # with it (tests/api/test_serve.py proves a killed `engage serve` leaves no orphan).
        if service.process is not None and service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=30)


def redeemed_once(till: Till, output: str, sale: str) -> None:
    lines = output.splitlines()
    assert lines[0] == "WELCOME-15: 750 off, 4250 to pay", output
    assert lines[1].startswith("redeemed: ") and lines[1].endswith(" SUCCEEDED"), output
    # The sale's id was the idempotency key: the redemption is the same one on a retry.
    retry = till.service.graphql(
        till.key,
        f'mutation {{ redeemCode(code: "{till.code}", idempotencyKey: "{sale}") '
        "{ redemption { id } errors { code } } }",
    )
    assert retry["redeemCode"]["redemption"]["id"] == lines[1].split()[1]


def test_python_example_validates_and_redeems(till: Till) -> None:
    ran = run(
        [sys.executable, str(PYTHON_EXAMPLE), till.code, "sale-py"],
        PYTHONPATH=str(CLIENTS / "python"),
        ENGAGE_URL=till.service.base,
        ENGAGE_KEY=till.key,
    )
    assert ran.returncode == 0, ran.stderr
    redeemed_once(till, ran.stdout, "sale-py")


def test_typescript_example_compiles_and_redeems(
    till: Till, generated: subprocess.CompletedProcess[str]
) -> None:
    typescript = CLIENTS / "typescript"
    compiled = run(
        [str(typescript / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], cwd=typescript
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = run(
        [
            "node",
            str(typescript / "dist" / "examples" / "validate-and-redeem.js"),
            till.code,
            "sale-ts",
        ],
        cwd=typescript,
        ENGAGE_URL=till.service.base,
        ENGAGE_KEY=till.key,
    )
    assert ran.returncode == 0, ran.stderr
    redeemed_once(till, ran.stdout, "sale-ts")
