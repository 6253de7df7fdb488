"""The embedded MongoDB wire server (nx-27017) run as a child process."""

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from pymongo import MongoClient
from pymongo.errors import PyMongoError

SERVER_NAME = "nx-27017"
# Started through our launcher, which fixes how the server stores dates (see that module).
SERVER_MODULE = "api.nx_server"


class EmbeddedDatabaseError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child before exec: the kernel sends SIGTERM to the server when the process
    # that started it dies, even by SIGKILL, so a killed `engage serve` leaves no orphan.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _is_embedded_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return SERVER_MODULE.encode() in cmdline


def terminate(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: a busy server can ignore SIGTERM."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


class EmbeddedDatabase:
    """Starts nx-27017 on a free loopback port and stops it again.

    `data_dir=None` keeps every database in memory (tests). A lock file makes the data
    directory single-owner; a server left running by an owner that crashed is replaced.
    """

    def __init__(self, run_dir: Path, data_dir: Path | None) -> None:
        self.run_dir = run_dir
        self.data_dir = data_dir
        self.pid_file = run_dir / "nx.pid"
        self.log_file = run_dir / "nx.log"
        self.uri_file = run_dir / "uri"
        self.process: subprocess.Popen[bytes] | None = None
        self.uri = ""
        self._lock: IO[str] | None = None

    def start(self, timeout: float = 30.0) -> str:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.run_dir / "engage.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EmbeddedDatabaseError(
                f"another Engage process owns {self.run_dir}; its database is at "
                f"{self.running_uri() or 'an unknown address'}"
            ) from None
        self._replace_stale_server()
        port = free_port()
        store = ["--data-dir", str(self.data_dir)] if self.data_dir else ["--db", "memory"]
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            *store,
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--pid-file",
            str(self.pid_file),
            "--log-file",
            str(self.log_file),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self._wait_for_ping(timeout)
        self.pid_file.write_text(str(self.process.pid))
        self.uri_file.write_text(self.uri)
        return self.uri

    def running_uri(self) -> str | None:
        try:
            return self.uri_file.read_text().strip() or None
        except OSError:
            return None

    def _replace_stale_server(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid and _is_embedded_server(pid):
            # We hold the lock, so its owner is gone: the server is left over from a crash.
            terminate(pid)
        for leftover in (self.pid_file, self.uri_file):
            leftover.unlink(missing_ok=True)

    def _wait_for_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250
        )
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise EmbeddedDatabaseError(
                        f"{SERVER_NAME} exited with {self.process.returncode}; see {self.log_file}"
                    )
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise EmbeddedDatabaseError(
                            f"{SERVER_NAME} did not answer ping within {timeout:.0f}s"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            self.process = None
        for leftover in (self.pid_file, self.uri_file):
            leftover.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
