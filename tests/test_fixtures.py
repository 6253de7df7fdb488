"""The shared database and app: every test starts empty, with indexes, on the session's app."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from starlette.applications import Starlette

from api.settings import Settings
from domain.codes import Code
from domain.customers import Customer
from domain.projects import Project
from tests.factories import Tenant, make_campaign, make_code, make_customer

LEFTOVER_FILE = Path("outbox") / "left-behind.eml"
# The project id the writing tests use, so the checking test can look for their documents.
WRITER_PROJECT = "665f1c2e9b1e8a0012345678"


async def keep_writing() -> None:
    while True:
        await asyncio.sleep(0.05)
        await Customer(project_id=WRITER_PROJECT, name="late").insert()


async def test_a_test_leaves_documents_files_and_a_task_behind(
    app: Starlette, settings: Settings
) -> None:
    await make_customer(project_id=WRITER_PROJECT, name="left behind")
    (settings.data_dir / LEFTOVER_FILE).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / LEFTOVER_FILE).write_text("x")
    # Would go on writing into the next tests if it were not stopped.
    asyncio.get_running_loop().create_task(keep_writing())
    assert await Customer.find({"project_id": WRITER_PROJECT}).count() >= 1


CHILD_WRITES = """
import sys
from pymongo import MongoClient
with MongoClient(sys.argv[1]) as client:
    client[sys.argv[2]]["written_by_a_child"].insert_one({"left": "behind"})
"""


def test_a_child_process_leaves_documents_behind(settings: Settings) -> None:
    assert settings.mongodb_uri is not None
    subprocess.run(
        [sys.executable, "-c", CHILD_WRITES, settings.mongodb_uri, settings.database],
        check=True,
        timeout=60,
    )


async def test_documents_a_child_process_left_are_gone(
    settings: Settings, database_cleaner: AsyncMongoClient
) -> None:
    collection = database_cleaner[settings.database]["written_by_a_child"]
    assert await collection.count_documents({}) == 0


@pytest.mark.xfail(strict=True, reason="a failing test is cleaned up after as well")
async def test_a_failing_test_leaves_documents_behind(app: Starlette) -> None:
    await make_customer(project_id=WRITER_PROJECT, name="failed")
    raise AssertionError("failing on purpose, after writing")


async def test_the_next_test_starts_with_nothing_left(app: Starlette, settings: Settings) -> None:
    assert await Customer.find({"project_id": WRITER_PROJECT}).count() == 0
    assert not (settings.data_dir / LEFTOVER_FILE).exists()
    await asyncio.sleep(0.3)
    assert await Customer.find({"project_id": WRITER_PROJECT}).count() == 0


async def test_unique_indexes_hold_after_cleaning(tenant: Tenant) -> None:
    campaign = await make_campaign(project_id=tenant.project_id)
    await make_code(campaign=campaign, display="ONCE-1")
    with pytest.raises(DuplicateKeyError):
        await make_code(campaign=campaign, display="once 1")
    assert await Code.find({"project_id": tenant.project_id}).count() == 1


class TestOwnSettings:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"referral_fallback_url": "https://shop.example/"})

    async def test_a_test_with_its_own_settings_gets_an_app_of_its_own(
        self, app: Starlette, settings: Settings, session_settings: Settings
    ) -> None:
        assert app.state.settings is settings and settings is not session_settings
        assert Project.get_pymongo_collection().database.client is app.state.mongo
        assert Project.get_pymongo_collection().database.name == session_settings.database


async def test_the_next_test_gets_the_shared_app_with_the_models_bound_to_it(
    app: Starlette, tenant: Tenant, session_settings: Settings
) -> None:
    assert app.state.settings is session_settings
    assert Project.get_pymongo_collection().database.client is app.state.mongo
    assert (await tenant.gql("{ project { name } }"))["project"]["name"] == "shop-a"
