"""Fixtures: a real MongoDB wire server for the session, a clean database per test, the app."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.database import make_client
from api.embedded import EmbeddedDatabase
from api.settings import Settings
from tests.factories import Tenant, make_tenant

GENEROUS_RATE = "1000000/minute"


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ENGAGE_TEST_MONGODB_URI, or an in-memory nx-27017 started for this session."""
    external = os.environ.get("ENGAGE_TEST_MONGODB_URI")
    if external:
        yield external
        return
    server = EmbeddedDatabase(tmp_path_factory.mktemp("nx"), data_dir=None)
    yield server.start()
    server.stop()


@pytest.fixture
def settings(mongodb_uri: str, tmp_path: Path) -> Settings:
    return Settings(
        mongodb_uri=mongodb_uri,
        database=f"engage_test_{uuid.uuid4().hex[:12]}",
        data_dir=tmp_path / "var",
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


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        # Each test has its own database; drop it so a long session stays small.
        assert settings.mongodb_uri is not None
        cleanup = make_client(settings.mongodb_uri)
        await cleanup.drop_database(settings.database)
        await cleanup.close()


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
