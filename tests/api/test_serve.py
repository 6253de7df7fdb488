"""`engage serve` as a real process: embedded database, demo key, restart, no orphans."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from api.embedded import free_port

pytestmark = pytest.mark.embedded_only(
    reason="`engage serve` starts its own embedded server by design (no MONGODB_URI)"
    "; it never uses the session's engine"
)

ENGAGE = str(Path(sys.executable).parent / "engage")


class Service:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self, *options: str, within: float = 60.0) -> None:
        env = {**os.environ, "ENGAGE_DATA_DIR": str(self.data_dir)}
        env.pop("ENGAGE_MONGODB_URI", None)
        self.process = subprocess.Popen(
            [ENGAGE, "serve", "--port", str(self.port), *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[0]
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("engage serve did not become healthy")

    def database_pid(self) -> int:
        return int((self.data_dir / "nx.pid").read_text())

    def stop(self, sig: int) -> str:
        assert self.process is not None
        self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=30)
        return output

    def graphql(self, key: str, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            self.base + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "var")
    yield running
    if running.process and running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_serve_persists_data_and_leaves_no_child_behind(service: Service) -> None:
    service.start()
    key = (service.data_dir / "admin-key").read_text().strip()
    assert key.startswith("ek_")
    # Development wallet credentials are made on first start.
    assert (service.data_dir / "wallet" / "dev" / "apple").is_dir()
    assert (service.data_dir / "wallet" / "dev" / "google-service-account.json").is_file()
    created = service.graphql(
        key,
        'mutation { createCustomer(input: {sourceId: "s-1", email: "x@example.com"}) '
        "{ customer { id } errors { code } } }",
    )
    assert created["createCustomer"]["errors"] == []
    first_database = service.database_pid()

    # One-off commands use the running service's database.
    cli = subprocess.run(
        [ENGAGE, "create-project", "kiosk", "--sandbox"],
        env={**os.environ, "ENGAGE_DATA_DIR": str(service.data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    kiosk_key = cli.stdout.strip().splitlines()[-1]
    kiosk = service.graphql(
        kiosk_key, '{ project { name sandbox } customer(sourceId: "s-1") { id } }'
    )
    assert kiosk == {"project": {"name": "kiosk", "sandbox": True}, "customer": None}

    output = service.stop(signal.SIGINT)
    assert key in output, "the demo admin key is printed at start"
    assert gone(first_database), "Ctrl-C stops the embedded database"

    service.start()
    assert (service.data_dir / "admin-key").read_text().strip() == key
    found = service.graphql(key, '{ customer(sourceId: "s-1") { email } }')
    assert found["customer"] == {"email": "x@example.com"}

    second_database = service.database_pid()
    service.stop(signal.SIGKILL)
    assert gone(second_database), "a killed service takes its database with it"

    service.start()
    found = service.graphql(key, '{ customer(sourceId: "s-1") { email } }')
    assert found["customer"] == {"email": "x@example.com"}
    third_database = service.database_pid()
    service.stop(signal.SIGTERM)
    assert gone(third_database)


def test_stale_database_from_a_crash_is_replaced(service: Service, tmp_path: Path) -> None:
    # A server left behind by a crashed owner: same data dir, pid file pointing at it.
    from api.embedded import EmbeddedDatabase

    orphan = EmbeddedDatabase(service.data_dir, service.data_dir / "db")
    orphan.start()
    assert orphan.process is not None and orphan._lock is not None
    orphan_pid = orphan.process.pid
    orphan._lock.close()  # the owner "dies" without stopping its server
    orphan._lock = None
    try:
        service.start()
        assert gone(orphan_pid), "the stale server was replaced"
        assert service.database_pid() != orphan_pid
        service.stop(signal.SIGTERM)
    finally:
        orphan.process.kill()
        orphan.process.wait()


def spawned_workers(pid: int) -> set[int]:
    """The process's children started by multiprocessing's spawn (its resource tracker and the
    database are children too)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command:
                found.add(int(child))
    return found


def test_workers_share_one_port_and_database_and_run_background_loops_once(
    service: Service,
) -> None:
    # Each worker imports the whole service before it answers: slow on a busy machine.
    service.start("--workers", "2", within=180)
    assert service.process is not None
    workers = spawned_workers(service.process.pid)
    assert len(workers) == 2
    # Both answer on the one port: each request on a new connection goes to either.
    answered: set[int] = set()
    deadline = time.monotonic() + 60
    while answered != workers and time.monotonic() < deadline:
        response = httpx.get(service.base + "/health", timeout=10)
        assert response.status_code == 200
        answered.add(response.json()["process"])
    assert answered == workers

    # The demo project was made once, by the serving process, on the one database.
    key = (service.data_dir / "admin-key").read_text().strip()
    campaign = service.graphql(
        key,
        'mutation { createCampaign(input: {name: "Welcome", discount: {type: PERCENT, '
        'percentOff: 15}, codes: {pattern: "WELC-####-####"}}) { campaign { id } } }',
    )["createCampaign"]["campaign"]["id"]
    customer = service.graphql(
        key,
        'mutation { createCustomer(input: {sourceId: "ada", email: "ada@example.com", '
        "consents: {email: true}}) { customer { id } } }",
    )["createCustomer"]["customer"]["id"]
    published = service.graphql(
        key,
        f'mutation {{ publishCode(campaignId: "{campaign}", customerId: "{customer}", '
        "channel: EMAIL) { errors { code } } }",
    )
    assert published["publishCode"]["errors"] == []

    database = MongoClient((service.data_dir / "uri").read_text().strip())
    try:
        engage = database["engage"]
        # One worker holds the background lease, and its outbox worker sends the email, once.
        leases = list(engage["service_leases"].find({"name": "background"}))
        assert len(leases) == 1
        holder = int(leases[0]["owner"].split(":")[1])
        assert holder in workers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sent = list(engage["messages"].find({"channel": "EMAIL", "status": "SENT"}))
            if sent:
                break
            time.sleep(0.2)
        assert len(sent) == 1 and sent[0]["attempts"] == 1
        assert len(list((service.data_dir / "outbox").rglob("*.eml"))) == 1
        assert engage["service_leases"].count_documents({}) == 1
    finally:
        database.close()

    database_pid = service.database_pid()
    service.stop(signal.SIGTERM)
    assert all(gone(pid) for pid in (*workers, database_pid)), "no worker or database is left"
