"""A real HTTP endpoint for webhook tests: uvicorn on a free loopback port, answering with the
statuses it is told to, recording every request, and able to hold a request unanswered."""

import asyncio
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    # Statuses for the next requests, in order; 200 once they run out.
    statuses: deque[int] = field(default_factory=deque)
    # While set, a request is recorded and then held unanswered until it is cleared.
    hold: bool = False
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(headers=headers, body=body))
        self._arrived.set()
        if self.hold:
            await self._released.wait()
        status = self.statuses.popleft() if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"no"})

    def release(self) -> None:
        """Answers the held requests, and holds no more."""
        self.hold = False
        self._released.set()

    async def wait_for_request(self, seconds: float) -> None:
        async with asyncio.timeout(seconds):
            await self._arrived.wait()

    async def start(self) -> "WebhookReceiver":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/engage"
        config = uvicorn.Config(self, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not self._server.started:  # noqa: ASYNC110 (uvicorn offers no event)
                await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.release()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait({self._task}, timeout=5)
