"""createWebhook and friends over GraphQL: checked input, admin only, the secret shown once;
addresses refused in production; an event nobody listens to costs no database call."""

from typing import Any

import pytest
from pymongo import monitoring

from domain import webhooks
from domain.errors import DomainError
from domain.webhooks import Webhook, WebhookDelivery, subscriptions
from tests.factories import Tenant, make_pos_key

CREATE = """
mutation ($url: String!, $events: [String!]!, $secret: String) {
  createWebhook(url: $url, events: $events, secret: $secret) {
    webhook { id url events status secretLast4 } secret errors { code field }
  }
}"""
LIST = "{ webhooks { totalCount edges { node { id url events status secretLast4 } } } }"
PAUSE = """
mutation ($id: ID!) { pauseWebhook(id: $id) { webhook { status pauseReason } errors { code } } }"""
DELETE = "mutation ($id: ID!) { deleteWebhook(id: $id) { deletedId errors { code } } }"
GIVEN_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class CommandCounter(monitoring.CommandListener):
    """Counts the commands every client sends while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.armed:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


# Registered at import, before any client is made, so every client reports to it.
COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


async def test_create_list_pause_delete(tenant: Tenant, other_tenant: Tenant) -> None:
    made = await tenant.gql(
        CREATE,
        {
            "url": "https://shop.example.com/hooks",
            "events": ["points.earned", "order.recorded", "points.earned"],
            "secret": GIVEN_SECRET,
        },
    )
    created = made["createWebhook"]
    assert created["errors"] == []
    assert created["secret"] == GIVEN_SECRET
    webhook = created["webhook"]
    assert webhook["events"] == ["points.earned", "order.recorded"]
    assert webhook["secretLast4"] == GIVEN_SECRET[-4:]
    generated = await tenant.gql(
        CREATE, {"url": "http://127.0.0.1:9/dev", "events": ["job.finished"]}
    )
    assert generated["createWebhook"]["secret"].startswith("whsec_")

    listed = (await tenant.gql(LIST))["webhooks"]
    assert listed["totalCount"] == 2
    # The secret is never returned again.
    assert "whsec_" not in str(listed)
    assert (await other_tenant.gql(LIST))["webhooks"]["totalCount"] == 0

    paused = await tenant.gql(PAUSE, {"id": webhook["id"]})
    assert paused["pauseWebhook"]["webhook"] == {"status": "PAUSED", "pauseReason": "MANUAL"}
    foreign = await other_tenant.gql(DELETE, {"id": webhook["id"]})
    assert foreign["deleteWebhook"]["errors"] == [{"code": "NOT_FOUND"}]
    deleted = await tenant.gql(DELETE, {"id": webhook["id"]})
    assert deleted["deleteWebhook"]["deletedId"] == webhook["id"]
    assert (await tenant.gql(LIST))["webhooks"]["totalCount"] == 1


async def test_every_problem_of_the_input_at_once_and_nothing_stored(tenant: Tenant) -> None:
    made = await tenant.gql(
        CREATE, {"url": "ftp://shop.example.com", "events": ["order.shipped"], "secret": "abc"}
    )
    errors = made["createWebhook"]["errors"]
    assert {(e["code"], e["field"]) for e in errors} == {
        ("INVALID_URL", "url"),
        ("UNKNOWN_EVENT", "events"),
        ("INVALID_SECRET", "secret"),
    }
    assert made["createWebhook"]["webhook"] is None
    assert await Webhook.find({"project_id": tenant.project_id}).count() == 0


async def test_webhooks_are_for_admin_keys_only(tenant: Tenant) -> None:
    pos = tenant.gql.as_token(await make_pos_key(tenant=tenant))
    response = await pos.raw(LIST)
    assert response.json()["data"] is None
    refused = await pos.raw(CREATE, {"url": "https://a.example.com", "events": ["job.finished"]})
    assert refused.json()["errors"]


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("http://127.0.0.1:8000/hook", True),
        ("http://localhost/hook", True),
        ("http://10.1.2.3/hook", True),
        ("http://192.168.0.10/hook", True),
        ("http://172.16.5.4/hook", True),
        ("http://169.254.169.254/latest", True),
        ("http://[::1]/hook", True),
        ("http://[fd00::1]/hook", True),
        ("http://[::ffff:10.0.0.1]/hook", True),
        ("http://printer.local/hook", True),
        ("https://hooks.example.com/hook", False),
        ("https://93.184.215.14/hook", False),
    ],
)
def test_private_addresses_are_refused_in_production(url: str, private: bool) -> None:
    refused: Any = None
    try:
        webhooks.check_url(url, allow_private=False)
    except DomainError as error:
        refused = error.problems[0].code
    assert refused == (webhooks.WebhookError.PRIVATE_ADDRESS if private else None)
    assert webhooks.check_url(url, allow_private=True) == url


async def test_an_event_nobody_listens_to_costs_no_database_call(tenant: Tenant) -> None:
    await webhooks.create_webhook(
        secret_key="k" * 40,
        project_id=tenant.project_id,
        url="https://hooks.example.com/a",
        events=["customer.created"],
        secret=None,
        allow_private=False,
    )
    # The first emit in a process reads the project's subscriptions; later ones use them.
    await subscriptions.subscriptions(project_id=tenant.project_id)
    COMMANDS.count, COMMANDS.armed = 0, True
    try:
        emitted = await webhooks.emit(
            project_id=tenant.project_id,
            event_type=webhooks.REDEMPTION_SUCCEEDED,
            object_key="redemption:1",
            data={},
        )
    finally:
        COMMANDS.armed = False
    assert emitted is None
    assert COMMANDS.count == 0
    assert await WebhookDelivery.find({"project_id": tenant.project_id}).count() == 0
