""".pkpass downloads' database round trips, counted with a command listener: a repeat download
of an unchanged pass reads the pass record and nothing else; a change makes the next one build
the pass again."""

import io
import json
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from api.app import create_app
from api.settings import Settings
from domain import links
from domain.campaigns import set_campaign_status
from tests.factories import Tenant, make_campaign, make_code

RATE_LIMIT_COLLECTION = "rate_limit_windows"


@dataclass
class Commands(CommandListener):
    """The collections the commands sent to one database named, while counting is on."""

    database: str
    counting: bool = False
    collections: list[str] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        if self.counting and event.database_name == self.database:
            self.collections.append(str(event.command.get(event.command_name, "")))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Commands]]:
    commands = Commands(settings.database)
    application = create_app(settings, command_listeners=[commands])
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, commands


def status_of(body: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        coupon = json.loads(archive.read("pass.json"))["coupon"]
    return next(f["value"] for f in coupon["secondaryFields"] if f["key"] == "status")


async def test_a_repeat_download_reads_the_pass_record_only(
    tenant: Tenant, settings: Settings, counted: tuple[httpx.AsyncClient, Commands]
) -> None:
    http, commands = counted
    campaign = await make_campaign(project_id=tenant.project_id)
    code = await make_code(campaign=campaign)
    token = links.pass_link_token(settings.secret_key, tenant.project_id, code.code)

    async def download() -> tuple[Any, Counter[str]]:
        commands.collections, commands.counting = [], True
        try:
            response = await http.get(f"/passes/apple/{code.code}.pkpass", params={"token": token})
        finally:
            commands.counting = False
        assert response.status_code == 200, response.text
        made = Counter(commands.collections)
        made.pop(RATE_LIMIT_COLLECTION, None)
        return status_of(response.content), made

    first_status, first = await download()
    assert first_status == "Valid" and {"codes", "campaigns", "projects"} <= set(first)
    again_status, again = await download()
    assert (again_status, again) == ("Valid", Counter({"wallet_passes": 1}))

    await set_campaign_status(
        project_id=tenant.project_id, campaign_id=campaign.key, status="PAUSED"
    )
    paused_status, rebuilt = await download()
    assert paused_status == "Paused" and {"codes", "campaigns", "projects"} <= set(rebuilt)
    assert await download() == ("Paused", Counter({"wallet_passes": 1}))
