"""The database engines the suite runs against: the embedded nx-27017 (the default) and SecantusDB.

SecantusDB (a MongoDB wire-protocol server on WiredTiger, a GPL beta) is a test backend only: it
has what the embedded server lacks (isolated transactions, ObjectId equality outside `_id`,
`$setOnInsert` in `find_one_and_update`), so the code is checked against a second reading of the
protocol. It is never a dependency of Engage itself.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from api.embedded import _die_with_parent, free_port, terminate

ENGINE_VARIABLE = "ENGAGE_TEST_DATABASE"
EMBEDDED = "nx"
SECANTUS = "secantus"
ENGINES = (EMBEDDED, SECANTUS)
# A real MongoDB (or any server) given by address; nothing is started for it.
EXTERNAL = "external"


def selected_engine() -> str:
    """ENGAGE_TEST_MONGODB_URI wins; otherwise ENGAGE_TEST_DATABASE, nx-27017 by default."""
    if os.environ.get("ENGAGE_TEST_MONGODB_URI"):
        return EXTERNAL
    engine = os.environ.get(ENGINE_VARIABLE, EMBEDDED) or EMBEDDED
    if engine not in ENGINES:
        raise pytest.UsageError(f"{ENGINE_VARIABLE}={engine!r}: expected one of {ENGINES}")
    return engine


class SecantusServer:
    """SecantusDB on a free loopback port with a data directory of its own, for one session.

    The server reads ./secantusd.toml, ~/.secantus/ and /etc/secantus/ unless told which file to
    read, so it is given an empty one: nothing on the machine changes how the tests' server runs.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.data_dir = run_dir / "data"
        self.log_file = run_dir / "secantus.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.uri = ""

    def start(self, timeout: float = 60.0) -> str:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "secantusd.toml"
        config.write_text("# Empty: the command line says everything.\n")
        port = free_port()
        self._log = open(self.log_file, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secantus",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(self.data_dir),
                "--log-level",
                "WARNING",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self._wait_for_ping(timeout)
        return self.uri

    def _wait_for_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250
        )
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"SecantusDB exited with {self.process.returncode}: "
                        f"{self.log_file.read_text(errors='replace')[-2000:]}"
                    )
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(
                            f"SecantusDB did not answer ping within {timeout:.0f}s; "
                            f"see {self.log_file}"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            # WiredTiger checkpoints on SIGTERM; the data is thrown away, so a slow one is killed.
            terminate(self.process.pid, grace=10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
