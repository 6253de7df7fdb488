"""Fixtures: one MongoDB wire server, database and app per session; every test starts clean."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, monitoring
from starlette.applications import Starlette

from api.app import create_app
from api.database import make_client
from api.embedded import EmbeddedDatabase
from api.settings import DEVELOPMENT_SECRET_FILE, Settings
from domain import projects
from domain.rate_limits import forget_holds
from tests.engines import SECANTUS, SecantusServer, selected_engine
from tests.factories import Tenant, make_tenant

GENEROUS_RATE = "1000000/minute"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Our own packages: a task still running one of their coroutines after a test is a leftover.
OWN_CODE = tuple(
    str(PROJECT_ROOT / package) for package in ("api", "schema", "domain", "delivery", "tests")
)
# Made once per session and slow to make (signing chains, keys): kept between tests.
KEPT_IN_DATA_DIR = {DEVELOPMENT_SECRET_FILE, "wallet/dev"}


class WrittenCollections(monitoring.CommandListener):
    """Names of the collections this process wrote to since they were last taken, seen by every
    client made after it was registered (the apps' and the tests' own)."""

    WRITES = frozenset({"insert", "update", "delete", "findAndModify"})

    def __init__(self) -> None:
        self.names: set[tuple[str, str]] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in self.WRITES:
            self.names.add((event.database_name, str(event.command[event.command_name])))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self, database: str) -> set[str]:
        taken = {name for db, name in self.names if db == database}
        self.names = {(db, name) for db, name in self.names if db != database}
        return taken


WRITTEN = WrittenCollections()
monitoring.register(WRITTEN)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_only(reason): measures the embedded server itself (its SQLite plans, our "
        "launcher's patches, `engage serve` starting it); skipped on the second engine",
    )
    selected_engine()


def pytest_report_header() -> str:
    return f"database engine: {selected_engine()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # On a MongoDB given by address they still run, as they did before there was a second engine.
    if selected_engine() != SECANTUS:
        return
    for item in items:
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"embedded server only: {reason}"))


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ENGAGE_TEST_MONGODB_URI; or the engine ENGAGE_TEST_DATABASE names, started for this
    session: nx-27017 in memory (the default) or SecantusDB in a temporary data directory."""
    external = os.environ.get("ENGAGE_TEST_MONGODB_URI")
    if external:
        yield external
        return
    server: EmbeddedDatabase | SecantusServer
    if selected_engine() == SECANTUS:
        server = SecantusServer(tmp_path_factory.mktemp("secantus"))
    else:
        server = EmbeddedDatabase(tmp_path_factory.mktemp("nx"), data_dir=None)
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def session_settings(mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings every test shares unless it overrides `settings`; one database per run."""
    return Settings(
        mongodb_uri=mongodb_uri,
        database=f"engage_test_{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path_factory.mktemp("data") / "var",
        base_url="http://testserver",
        demo_project=False,
        run_jobs=False,
        run_worker=False,
        # Limits stay on, high enough for tests that make many calls at once; the rate limit
        # tests lower them.
        rate_limit_code_attempts_per_key=GENEROUS_RATE,
        rate_limit_code_attempts_per_address=GENEROUS_RATE,
        rate_limit_public_per_address=GENEROUS_RATE,
        rate_limit_wallet_log_per_address=GENEROUS_RATE,
        rate_limit_hooks_per_address=GENEROUS_RATE,
    )


class SharedApp:
    """The session's app, its lifespan entered once. Any lifespan binds the document models to
    its own client for the whole process, so after a test ran one of its own (and closed it) the
    shared app starts again before it is used."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Starlette | None = None
        self._lifespan = AsyncExitStack()

    async def current(self) -> Starlette:
        if self.app is None or not self._models_bound_to(self.app):
            await self.stop()
            await self._start()
        assert self.app is not None
        return self.app

    @staticmethod
    def _models_bound_to(app: Starlette) -> bool:
        return projects.Project.get_pymongo_collection().database.client is app.state.mongo

    async def _start(self) -> None:
        application = create_app(self.settings)
        await self._lifespan.enter_async_context(application.router.lifespan_context(application))
        self.app = application

    async def stop(self) -> None:
        self.app = None
        await self._lifespan.aclose()


@pytest.fixture(scope="session")
async def shared_app(session_settings: Settings) -> AsyncIterator[SharedApp]:
    shared = SharedApp(session_settings)
    yield shared
    await shared.stop()


@pytest.fixture(scope="session")
async def database_cleaner(session_settings: Settings) -> AsyncIterator[AsyncMongoClient]:
    """A client of the fixtures' own, which outlives every app; drops the run's database last."""
    assert session_settings.mongodb_uri is not None
    client = make_client(session_settings.mongodb_uri)
    yield client
    await client.drop_database(session_settings.database)
    await client.close()


async def cancel_leftover_tasks(before: set[asyncio.Task[Any]]) -> None:
    """Stops tasks a test started from our code and left running, so they write nothing into the
    next test; the driver's own tasks (connection monitors) are left alone."""
    leftovers = [
        task
        for task in asyncio.all_tasks() - before
        if not task.done() and task is not asyncio.current_task() and started_by_our_code(task)
    ]
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers, timeout=10)


def started_by_our_code(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(OWN_CODE)


async def empty_collections(client: AsyncMongoClient, database: str) -> None:
    """delete_many rather than drop: the collections keep their indexes, and unique indexes are
    what make limits hold. The collections this process wrote go first; when documents remain
    (written by a child process), every collection is emptied."""
    db = client[database]
    for name in WRITTEN.take(database):
        await db[name].delete_many({})
    if (await db.command("dbStats"))["objects"] == 0:
        return
    for name in await db.list_collection_names():
        if not name.startswith("system."):
            await db[name].delete_many({})
    WRITTEN.take(database)


def empty_data_dir(data_dir: Path) -> None:
    if not data_dir.is_dir():
        return
    for path in sorted(data_dir.rglob("*"), reverse=True):
        relative = path.relative_to(data_dir).as_posix()
        if any(relative == kept or relative.startswith(kept + "/") for kept in KEPT_IN_DATA_DIR):
            continue
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()


@pytest.fixture
async def settings(
    session_settings: Settings, database_cleaner: AsyncMongoClient
) -> AsyncIterator[Settings]:
    """The session's settings; afterwards, whether the test passed or not, its leftover tasks
    are stopped and the database and data folder are emptied for the next test."""
    tasks_before = asyncio.all_tasks()
    yield session_settings
    await cancel_leftover_tasks(tasks_before)
    await empty_collections(database_cleaner, session_settings.database)
    # The counters are gone: units this process held of them are too.
    forget_holds()
    empty_data_dir(session_settings.data_dir)


@pytest.fixture
async def app(
    settings: Settings, session_settings: Settings, shared_app: SharedApp
) -> AsyncIterator[Starlette]:
    if settings is not session_settings:
        # A test with settings of its own gets an app of its own, on the same database.
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            yield application
        return
    shared = await shared_app.current()
    try:
        yield shared
    finally:
        # Some tests swap the settings the routes read.
        shared.state.settings = session_settings


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def tenant(http: httpx.AsyncClient) -> Tenant:
    return await make_tenant(http=http, name="shop-a")


@pytest.fixture
async def other_tenant(http: httpx.AsyncClient) -> Tenant:
    return await make_tenant(http=http, name="shop-b")
