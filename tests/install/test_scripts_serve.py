"""./scripts/serve on a fresh copy of the checkout: a failed install says why in one line and
is tried again on the next run, which then serves."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.embedded import free_port
from api.settings import PROJECT_ROOT
from tests.install.test_installed_wheel import LEFT_OUT, clean_environment

pytestmark = pytest.mark.embedded_only(
    reason="./scripts/serve starts its own embedded server by design"
    "; it never uses the session's engine"
)

STAMP = Path(".venv") / ".installed-base"


def serve_command(clone: Path, port: int) -> tuple[list[str], dict[str, str]]:
    env = clean_environment() | {"PYTHON": getattr(sys, "_base_executable", sys.executable)}
    return ["bash", str(clone / "scripts" / "serve"), "--port", str(port)], env


def test_a_failed_install_is_explained_and_retried(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(PROJECT_ROOT, clone, ignore=LEFT_OUT)
    pyproject = clone / "pyproject.toml"
    good = pyproject.read_text()
    # An install that pip refuses without asking any index: this Python is too old for it.
    pyproject.write_text(good.replace('requires-python = ">=3.11"', 'requires-python = ">=3.99"'))

    command, env = serve_command(clone, free_port())
    failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("engage: installing Engage failed: ERROR: Package 'engage' requires"), (
        failed.stderr
    )
    assert "(whole log: .venv/install.log)" in last
    assert not (clone / STAMP).exists()

    pyproject.write_text(good)
    port = free_port()
    command, env = serve_command(clone, port)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "./scripts/serve did not come up"
            time.sleep(0.5)
        assert (clone / STAMP).is_file()
        assert (clone / "var" / "admin-key").read_text().startswith("ek_")
    finally:
        # scripts/serve execs engage, so Ctrl-C reaches it as it would in a terminal.
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
