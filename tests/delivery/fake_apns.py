"""A local stand-in for APNs: hypercorn serving HTTP/2 over TLS, requiring a client certificate
from the development root, recording every push and answering scripted statuses."""

import asyncio
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from hypercorn.asyncio import serve
from hypercorn.config import Config

from delivery.wallet import certificates


@dataclass(frozen=True)
class Push:
    path: str
    http_version: str
    headers: dict[str, str]
    body: bytes

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeApns:
    def __init__(self, chain_directory: Path, work_dir: Path) -> None:
        self.chain_directory = chain_directory
        self.certificate, self.key = certificates.issue_server_certificate(
            chain_directory, "localhost", work_dir
        )
        self._trusted = work_dir / "client-ca.pem"
        self._trusted.write_bytes(
            (chain_directory / certificates.ROOT_CERTIFICATE).read_bytes()
            + (chain_directory / certificates.WWDR_CERTIFICATE).read_bytes()
        )
        self.port = _free_port()
        self.pushes: list[Push] = []
        # token -> (status, reason); anything else answers 200.
        self.answers: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.chain_directory / certificates.ROOT_CERTIFICATE

    def settings(self) -> dict[str, Any]:
        return {"apns_url": self.url, "apns_ca_file": self.ca_file}

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        push = Push(
            path=scope["path"],
            http_version=scope["http_version"],
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        with self._lock:
            self.pushes.append(push)
            status, reason = self.answers.get(push.token, (200, ""))
        payload = json.dumps({"reason": reason}).encode() if reason else b""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"apns-id", f"apns-{len(self.pushes)}".encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _run(self) -> None:
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.certfile = str(self.certificate)
        config.keyfile = str(self.key)
        # Apple's servers know the WWDR intermediate, so the client sends only its own certificate.
        config.ca_certs = str(self._trusted)
        # APNs authenticates the sender by its certificate: so does the stand-in.
        config.verify_mode = ssl.CERT_REQUIRED
        config.alpn_protocols = ["h2"]
        config.accesslog = None
        config.errorlog = None
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        loop.call_soon(self._ready.set)
        loop.run_until_complete(serve(self._app, config, shutdown_trigger=self._stop.wait))  # type: ignore[arg-type]
        loop.close()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("the APNs stand-in did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[Push]:
        with self._lock:
            return list(self.pushes)
