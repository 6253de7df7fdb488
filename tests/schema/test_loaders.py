"""Lists read their relations in batches: the database calls of a page do not grow with its size."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from delivery.worker import OutboxWorker
from domain.loyalty import Expiring, find_card
from domain.messages import MessageFilter, list_messages
from domain.segments import get_segment
from schema.context import Loaders
from tests.factories import GraphQLClient, Tenant


@dataclass
class CommandCounter(CommandListener):
    """The commands sent to one database while counting is on."""

    database: str
    counting: bool = False
    commands: list[str] = field(default_factory=list)

    # Not the page's reads: the caller's key comes from a copy that lasts seconds, and units
    # given back to the guessing limits are written a moment after the request that gave them.
    AROUND_THE_PAGE = frozenset({"api_keys", "rate_limit_windows"})

    def started(self, event: CommandStartedEvent) -> None:
        if not self.counting or event.database_name != self.database:
            return
        if str(event.command.get(event.command_name, "")) not in self.AROUND_THE_PAGE:
            self.commands.append(event.command_name)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    async def count(
        self, gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[Any, list[str]]:
        """The answer to one request and the commands it sent."""
        self.commands = []
        self.counting = True
        try:
            data = await gql(query, variables)
        finally:
            self.counting = False
        return data, list(self.commands)


@pytest.fixture
def commands(settings: Settings) -> CommandCounter:
    return CommandCounter(settings.database)


@pytest.fixture
async def app(settings: Settings, commands: CommandCounter) -> AsyncIterator[Starlette]:
    """An app of its own on the session's database, with the counter listening on its client;
    the settings fixture empties the database afterwards, as for every test."""
    application = create_app(settings, command_listeners=[commands])
    async with application.router.lifespan_context(application):
        yield application


CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code field message } }
}"""
CREATE_CUSTOMER = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code field message } }
}"""
PUBLISH = """
mutation ($campaignId: ID!, $customerId: ID!, $channel: MessageChannel) {
  publishCode(campaignId: $campaignId, customerId: $customerId, channel: $channel) {
    code { code } errors { code field message }
  }
}"""
REDEEM = """
mutation ($code: String!, $customerId: ID) {
  redeemCode(code: $code, customerId: $customerId,
             order: {amount: {amount: 5000, currency: "EUR"}}) {
    redemption { id } errors { code field message }
  }
}"""
TOKEN = "mutation ($id: ID!) { issueCustomerToken(customerId: $id) { token errors { code } } }"


async def make_campaign(tenant: Tenant, name: str, **fields: Any) -> str:
    values = {"name": name, "discount": {"type": "PERCENT", "percentOff": 10}, **fields}
    payload = (await tenant.gql(CREATE_CAMPAIGN, {"input": values}))["createCampaign"]
    assert payload["errors"] == []
    return str(payload["campaign"]["id"])


async def make_customer(tenant: Tenant, name: str) -> str:
    values = {
        "name": name,
        "email": f"{name.lower()}@example.com",
        "consents": {"email": True, "sms": False},
    }
    payload = (await tenant.gql(CREATE_CUSTOMER, {"input": values}))["createCustomer"]
    assert payload["errors"] == []
    return str(payload["customer"]["id"])


async def publish(
    tenant: Tenant, campaign_id: str, customer_id: str, channel: str | None = None
) -> str:
    variables = {"campaignId": campaign_id, "customerId": customer_id, "channel": channel}
    payload = (await tenant.gql(PUBLISH, variables))["publishCode"]
    assert payload["errors"] == []
    return str(payload["code"]["code"])


async def redeem(tenant: Tenant, code: str, customer_id: str) -> None:
    payload = (await tenant.gql(REDEEM, {"code": code, "customerId": customer_id}))["redeemCode"]
    assert payload["errors"] == []


async def customer_token(tenant: Tenant, customer_id: str) -> GraphQLClient:
    payload = (await tenant.gql(TOKEN, {"id": customer_id}))["issueCustomerToken"]
    assert payload["errors"] == []
    return tenant.gql.as_token(payload["token"])


def assert_same_calls(small: list[str], large: list[str]) -> None:
    """A page of 20 makes the calls a page of 2 makes, no more."""
    assert len(small) == len(large), (small, large)


COUPONS = """
query {
  me {
    coupons {
      code status offer usesLeft expiresAt campaign { id name } customer { id name }
    }
  }
}"""


async def test_me_coupons_read_their_campaigns_in_one_batch(
    tenant: Tenant, commands: CommandCounter
) -> None:
    ada = await make_customer(tenant, "Ada")
    me = await customer_token(tenant, ada)
    names: dict[str, str] = {}

    async def publish_more(upto: int) -> None:
        for index in range(len(names), upto):
            name = f"Offer {index}"
            campaign_id = await make_campaign(tenant, name, limits={"perCode": 2})
            names[await publish(tenant, campaign_id, ada)] = name

    await publish_more(2)
    small, small_calls = await commands.count(me, COUPONS)
    await publish_more(20)
    large, large_calls = await commands.count(me, COUPONS)

    assert_same_calls(small_calls, large_calls)
    coupons = large["me"]["coupons"]
    assert {c["code"]: c["campaign"]["name"] for c in coupons} == names
    assert {c["status"] for c in coupons} == {"ACTIVE"}
    assert {c["offer"] for c in coupons} == {"10% off"}
    assert {c["usesLeft"] for c in coupons} == {2}
    assert {c["customer"]["name"] for c in coupons} == {"Ada"}
    assert len(small["me"]["coupons"]) == 2


MESSAGES = """
query {
  messages(first: 50) {
    totalCount
    edges { node { id code campaignId redemptionId customer { id name } } }
  }
}"""
REDEMPTION_OF_MESSAGE = "query ($id: ID!) { message(id: $id) { redemptionId } }"


async def test_a_page_of_messages_reads_redemptions_and_customers_in_batches(
    tenant: Tenant, commands: CommandCounter, settings: Settings
) -> None:
    campaign_id = await make_campaign(tenant, "Coupon mail")
    customers_by_code: dict[str, str] = {}

    async def send_more(upto: int) -> None:
        published = []
        for index in range(len(customers_by_code), upto):
            name = f"Shopper{index}"
            customer_id = await make_customer(tenant, name)
            code = await publish(tenant, campaign_id, customer_id, channel="EMAIL")
            customers_by_code[code] = name
            published.append((index, code, customer_id))
        # Sent to the outbox sink (no provider is set); a redemption is attributed to a sent one.
        await OutboxWorker(settings).run_until_idle()
        # Every other coupon is redeemed, so the page holds messages with and without one.
        for index, code, customer_id in published:
            if index % 2 == 0:
                await redeem(tenant, code, customer_id)

    await send_more(2)
    small, small_calls = await commands.count(tenant.gql, MESSAGES)
    await send_more(20)
    large, large_calls = await commands.count(tenant.gql, MESSAGES)

    assert_same_calls(small_calls, large_calls)
    nodes = [edge["node"] for edge in large["messages"]["edges"]]
    assert large["messages"]["totalCount"] == 20 and len(small["messages"]["edges"]) == 2
    assert {n["code"]: n["customer"]["name"] for n in nodes} == customers_by_code
    assert {n["campaignId"] for n in nodes} == {campaign_id}
    redeemed = [n for n in nodes if n["redemptionId"] is not None]
    assert len(redeemed) == 10
    # The batched answer is the one a single message gives.
    for node in nodes[:4]:
        one = await tenant.gql(REDEMPTION_OF_MESSAGE, {"id": node["id"]})
        assert one["message"]["redemptionId"] == node["redemptionId"]


REDEMPTIONS = """
query {
  redemptions(first: 50) {
    totalCount
    edges { node { id code customerId customer { id name } } }
  }
}"""


async def test_a_page_of_redemptions_reads_its_customers_in_one_batch(
    tenant: Tenant, commands: CommandCounter
) -> None:
    campaign_id = await make_campaign(tenant, "Till")
    redeemers: dict[str, str] = {}

    async def redeem_more(upto: int) -> None:
        for index in range(len(redeemers), upto):
            name = f"Buyer{index}"
            customer_id = await make_customer(tenant, name)
            code = await publish(tenant, campaign_id, customer_id)
            await redeem(tenant, code, customer_id)
            redeemers[customer_id] = name

    await redeem_more(2)
    _, small_calls = await commands.count(tenant.gql, REDEMPTIONS)
    await redeem_more(20)
    large, large_calls = await commands.count(tenant.gql, REDEMPTIONS)

    assert_same_calls(small_calls, large_calls)
    nodes = [edge["node"] for edge in large["redemptions"]["edges"]]
    assert {n["customerId"]: n["customer"]["name"] for n in nodes} == redeemers


CREATE_SEGMENT = """
mutation ($input: SegmentInput!) {
  createSegment(input: $input) { segment { id size } errors { code field message } }
}"""
ADD_MEMBERS = """
mutation ($id: ID!, $ids: [ID!]!) {
  addSegmentMembers(segmentId: $id, customerIds: $ids) { added errors { code } }
}"""
SEGMENTS = """
query {
  segments(first: 50) {
    totalCount edges { node { id name kind size sample(first: 3) { name } } }
  }
}"""
TAGGED = """
mutation ($input: CustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}"""


async def test_a_page_of_segments_counts_its_dynamic_segments_at_once(
    tenant: Tenant, commands: CommandCounter
) -> None:
    # Customer i has the tags t0..ti: segment "has tag tj" holds 6 - j customers.
    customer_ids, names = [], []
    for index in range(6):
        values = {"name": f"Tagged{index}", "tags": [f"t{j}" for j in range(index + 1)]}
        created = (await tenant.gql(TAGGED, {"input": values}))["createCustomer"]
        customer_ids.append(created["customer"]["id"])
        names.append(values["name"])
    expected: dict[str, int] = {}
    # The first members by id (creation order here): static ones hold the first `size`.
    samples: dict[str, list[str]] = {}

    async def create_more(upto: int) -> None:
        for index in range(len(expected), upto):
            if index % 2 == 0:
                tag = f"t{index // 2 % 6}"
                rule = {"field": "tags", "op": "contains", "value": tag}
                values = {"name": f"has {tag} ({index})", "kind": "DYNAMIC", "filter": rule}
                size = 6 - index // 2 % 6
                samples[values["name"]] = names[index // 2 % 6 :][:3]
            else:
                values = {"name": f"listed {index}", "kind": "STATIC"}
                size = index % 4
                samples[values["name"]] = names[:size][:3]
            created = (await tenant.gql(CREATE_SEGMENT, {"input": values}))["createSegment"]
            assert created["errors"] == []
            segment_id = created["segment"]["id"]
            if values["kind"] == "STATIC" and size:
                variables = {"id": segment_id, "ids": customer_ids[:size]}
                assert (await tenant.gql(ADD_MEMBERS, variables))["addSegmentMembers"][
                    "added"
                ] == size
            expected[str(values["name"])] = size

    await create_more(4)
    small, small_calls = await commands.count(tenant.gql, SEGMENTS)
    await create_more(20)
    large, large_calls = await commands.count(tenant.gql, SEGMENTS)

    assert_same_calls(small_calls, large_calls)
    sizes = {e["node"]["name"]: e["node"]["size"] for e in small["segments"]["edges"]}
    assert sizes == {name: expected[name] for name in sizes}
    assert {e["node"]["name"]: e["node"]["size"] for e in large["segments"]["edges"]} == expected
    found = {
        e["node"]["name"]: [c["name"] for c in e["node"]["sample"]]
        for e in large["segments"]["edges"]
    }
    assert found == samples

    # The same fields asked twice under other names load together and agree, in a list and
    # for one dynamic segment.
    fields = "name a: size b: size c: sample { name } d: sample { name }"
    in_list = await tenant.gql(f"{{ segments {{ edges {{ node {{ {fields} }} }} }} }}")
    dynamic = next(e["node"] for e in large["segments"]["edges"] if e["node"]["kind"] == "DYNAMIC")
    alone = await tenant.gql(
        f"query ($id: ID!) {{ segment(id: $id) {{ {fields} }} }}", {"id": dynamic["id"]}
    )
    nodes = [edge["node"] for edge in in_list["segments"]["edges"]] + [alone["segment"]]
    for node in nodes:
        assert node["a"] == node["b"] == expected[node["name"]] and node["c"] == node["d"]


CREATE_AUTOMATION = """
mutation ($input: AutomationInput!) {
  createAutomation(input: $input) { automation { id } errors { code field message } }
}"""
TRACK = """
mutation ($customerId: ID!) {
  trackEvent(customerId: $customerId, name: "cart.abandoned") { errors { code field } }
}"""
AUTOMATIONS = """
query {
  automations(first: 50) {
    edges { node {
      name stats { triggered scheduled cancelled executed skipped failed }
      scheduledActions(first: 5) {
        totalCount pageInfo { hasNextPage } edges { node { status customer { name } } }
      }
      done: scheduledActions(status: DONE) { totalCount edges { node { id } } }
    } }
  }
}"""


async def test_a_page_of_automations_counts_their_actions_in_one_aggregation(
    tenant: Tenant, commands: CommandCounter
) -> None:
    campaign_id = await make_campaign(tenant, "Come back")
    ada = await make_customer(tenant, "Ada")
    names: list[str] = []

    async def create_more(upto: int) -> None:
        for index in range(len(names), upto):
            values = {
                "name": f"Cart {index}",
                "trigger": "cart.abandoned",
                "action": {"type": "SEND_CODE", "campaignId": campaign_id, "channel": "EMAIL"},
                "delay": {"hours": 1},
            }
            created = await tenant.gql(CREATE_AUTOMATION, {"input": values})
            assert created["createAutomation"]["errors"] == []
            names.append(values["name"])

    await create_more(2)
    assert (await tenant.gql(TRACK, {"customerId": ada}))["trackEvent"]["errors"] == []
    _, small_calls = await commands.count(tenant.gql, AUTOMATIONS)
    await create_more(20)
    large, large_calls = await commands.count(tenant.gql, AUTOMATIONS)

    assert_same_calls(small_calls, large_calls)
    stats = {e["node"]["name"]: e["node"]["stats"] for e in large["automations"]["edges"]}
    assert set(stats) == set(names)
    # The event came before the last 18 were made: only the first two scheduled an action.
    waiting = {"triggered": 1, "scheduled": 1, "cancelled": 0, "executed": 0, "skipped": 0}
    assert stats["Cart 0"] == stats["Cart 1"] == {**waiting, "failed": 0}
    assert stats["Cart 19"] == dict.fromkeys(stats["Cart 19"], 0)
    actions = {
        e["node"]["name"]: e["node"]["scheduledActions"] for e in large["automations"]["edges"]
    }
    waiting_for_ada = {"status": "PENDING", "customer": {"name": "Ada"}}
    assert actions["Cart 0"] == {
        "totalCount": 1,
        "pageInfo": {"hasNextPage": False},
        "edges": [{"node": waiting_for_ada}],
    }
    assert actions["Cart 19"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "edges": []}
    assert {e["node"]["done"]["totalCount"] for e in large["automations"]["edges"]} == {0}


ADJUST = """
mutation ($customerId: ID!, $campaignId: ID!) {
  adjustPoints(customerId: $customerId, campaignId: $campaignId, points: 40, reason: "welcome") {
    errors { code field }
  }
}"""
CARDS = """
query {
  me {
    loyaltyCards {
      campaignId points expiringSoon { points }
      ledger(first: 1) { totalCount pageInfo { hasNextPage } edges { node { points } } }
    }
  }
}"""


async def test_me_loyalty_cards_read_their_expiring_points_in_one_batch(
    tenant: Tenant, commands: CommandCounter
) -> None:
    ada = await make_customer(tenant, "Ada")
    me = await customer_token(tenant, ada)
    programs: list[str] = []

    async def join_more(upto: int) -> None:
        for index in range(len(programs), upto):
            program = await make_campaign(
                tenant, f"Points {index}", kind="LOYALTY", loyalty={"expiryDays": 10}
            )
            variables = {"customerId": ada, "campaignId": program}
            assert (await tenant.gql(ADJUST, variables))["adjustPoints"]["errors"] == []
            programs.append(program)

    await join_more(2)
    _, small_calls = await commands.count(me, CARDS)
    await join_more(20)
    large, large_calls = await commands.count(me, CARDS)

    assert_same_calls(small_calls, large_calls)
    cards = {card["campaignId"]: card for card in large["me"]["loyaltyCards"]}
    assert set(cards) == set(programs)
    assert all(card["expiringSoon"] == [{"points": 40}] for card in cards.values())
    # A second adjustment in the first program: its ledger has a next page.
    variables = {"customerId": ada, "campaignId": programs[0]}
    assert (await tenant.gql(ADJUST, variables))["adjustPoints"]["errors"] == []
    ledgers = {c["campaignId"]: c["ledger"] for c in (await me(CARDS))["me"]["loyaltyCards"]}
    one_entry = {
        "totalCount": 1,
        "pageInfo": {"hasNextPage": False},
        "edges": [{"node": {"points": 40}}],
    }
    assert ledgers[programs[1]] == one_entry
    assert ledgers[programs[0]] == {**one_entry, "totalCount": 2, "pageInfo": {"hasNextPage": True}}


LINK = """
mutation ($customerId: ID!, $campaignId: ID!) {
  referralLink(customerId: $customerId, campaignId: $campaignId) { code errors { code field } }
}"""
APPLY = """
mutation ($code: String!, $customerId: ID!) {
  applyReferralCode(code: $code, customerId: $customerId) { errors { code field message } }
}"""
REFERRALS = """
query ($campaignId: ID!) {
  referrals(campaignId: $campaignId, first: 50) {
    edges { node { code referrer { id name } referee { id name } } }
  }
}"""


async def test_a_page_of_referrals_reads_referrers_and_referees_in_one_batch(
    tenant: Tenant, commands: CommandCounter
) -> None:
    welcome = await make_campaign(tenant, "Welcome")
    thanks = await make_campaign(tenant, "Thanks")
    referral = {
        "landingUrl": "https://shop.example/join",
        "welcomeCampaignId": welcome,
        "referrerReward": {"discountCampaignId": thanks},
    }
    program = await make_campaign(tenant, "Friends", kind="REFERRAL", referral=referral)
    pairs: dict[str, tuple[str, str]] = {}

    async def refer_more(upto: int) -> None:
        for index in range(len(pairs), upto):
            referrer = await make_customer(tenant, f"Referrer{index}")
            referee = await make_customer(tenant, f"Referee{index}")
            variables = {"customerId": referrer, "campaignId": program}
            code = (await tenant.gql(LINK, variables))["referralLink"]["code"]
            applied = await tenant.gql(APPLY, {"code": code, "customerId": referee})
            assert applied["applyReferralCode"]["errors"] == []
            pairs[code] = (f"Referrer{index}", f"Referee{index}")

    await refer_more(2)
    _, small_calls = await commands.count(tenant.gql, REFERRALS, {"campaignId": program})
    await refer_more(20)
    large, large_calls = await commands.count(tenant.gql, REFERRALS, {"campaignId": program})

    assert_same_calls(small_calls, large_calls)
    nodes = [edge["node"] for edge in large["referrals"]["edges"]]
    found = {n["code"]: (n["referrer"]["name"], n["referee"]["name"]) for n in nodes}
    assert found == pairs


async def test_every_loader_answers_only_from_the_callers_project(
    tenant: Tenant, other_tenant: Tenant, settings: Settings
) -> None:
    # Everything is made in the other project; read with each project's loaders.
    other = other_tenant
    ada = await make_customer(other, "Ada")
    campaign_id = await make_campaign(other, "Theirs")
    code = await publish(other, campaign_id, ada, channel="EMAIL")
    await OutboxWorker(settings).run_until_idle()
    await redeem(other, code, ada)
    [message] = (await list_messages(other.project_id, MessageFilter(), 10, None)).items
    rule = {"field": "tags", "op": "contains", "value": "vip"}
    vip = {"name": "Vip", "tags": ["vip"]}
    assert (await other.gql(TAGGED, {"input": vip}))["createCustomer"]["errors"] == []
    segments = []
    for name in ("vips", "vips again"):
        values = {"name": name, "kind": "DYNAMIC", "filter": rule}
        created = (await other.gql(CREATE_SEGMENT, {"input": values}))["createSegment"]
        segments.append(
            await get_segment(project_id=other.project_id, segment_id=created["segment"]["id"])
        )
    action = {"type": "SEND_CODE", "campaignId": campaign_id, "channel": "EMAIL"}
    values = {"name": "Cart", "trigger": "cart.abandoned", "action": action}
    automation_id = (await other.gql(CREATE_AUTOMATION, {"input": values}))["createAutomation"][
        "automation"
    ]["id"]
    assert (await other.gql(TRACK, {"customerId": ada}))["trackEvent"]["errors"] == []
    program = await make_campaign(other, "Points", kind="LOYALTY", loyalty={"expiryDays": 10})
    variables = {"customerId": ada, "campaignId": program}
    assert (await other.gql(ADJUST, variables))["adjustPoints"]["errors"] == []
    card = await find_card(project_id=other.project_id, campaign_id=program, customer_id=ada)

    async def read(loaders: Loaders) -> tuple[Any, ...]:
        return (
            await loaders.customer.load(ada),
            await loaders.campaign.load(campaign_id),
            await loaders.message_redemption.load(message.key),
            await loaders.segment_size.load_many(segments),
            (await loaders.automation_stats.load(automation_id)).triggered,
            await loaders.expiring_points.load(card),
        )

    theirs = await read(Loaders(project_id=other.project_id))
    assert theirs[0] is not None and theirs[1] is not None and theirs[2] is not None
    assert theirs[3:] == ([1, 1], 1, [Expiring(points=40, at=theirs[5][0].at)])
    assert await read(Loaders(project_id=tenant.project_id)) == (None, None, None, [0, 0], 0, [])


async def test_a_refused_page_size_under_a_list_is_the_same_typed_error(tenant: Tenant) -> None:
    campaign_id = await make_campaign(tenant, "Come back")
    action = {"type": "SEND_CODE", "campaignId": campaign_id, "channel": "EMAIL"}
    for name in ("One", "Two"):
        values = {"name": name, "trigger": "cart.abandoned", "action": action}
        assert (await tenant.gql(CREATE_AUTOMATION, {"input": values}))["createAutomation"][
            "errors"
        ] == []
    query = "{ automations { edges { node { scheduledActions(first: 501) { totalCount } } } } }"
    body = (await tenant.gql.raw(query)).json()
    assert body["data"] is None
    assert {error["extensions"]["code"] for error in body["errors"]} == {"INVALID"}
    assert {error["message"] for error in body["errors"]} == {"first must be between 0 and 500"}


async def test_mutations_in_one_request_read_what_the_one_before_changed(tenant: Tenant) -> None:
    ada, bob = await make_customer(tenant, "Ada"), await make_customer(tenant, "Bob")
    values = {"name": "Listed", "kind": "STATIC"}
    segment_id = (await tenant.gql(CREATE_SEGMENT, {"input": values}))["createSegment"]["segment"][
        "id"
    ]
    # Mutation fields run one after another; each answers with the segment as it left it.
    twice = """
    mutation ($id: ID!, $ada: ID!, $bob: ID!) {
      first: addSegmentMembers(segmentId: $id, customerIds: [$ada]) { segment { size } }
      second: addSegmentMembers(segmentId: $id, customerIds: [$bob]) { segment { size } }
    }"""
    done = await tenant.gql(twice, {"id": segment_id, "ada": ada, "bob": bob})
    assert done["first"]["segment"]["size"] == 1 and done["second"]["segment"]["size"] == 2


CREATE_EXPERIMENT = """
mutation ($input: ExperimentInput!) {
  createExperiment(input: $input) { experiment { id } errors { code field message } }
}"""
START_EXPERIMENT = "mutation ($id: ID!) { startExperiment(id: $id) { errors { code field } } }"
RECORD_ORDER = """
mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { errors { code field } } }
"""
RESULTS = """
currency windowStart winner
decision { variant test { against pValue significant } }
holdout { key assigned converted revenue { amount currency } }
variants {
  key assigned issued redeemed converted orders
  revenue { amount currency } discountCost { amount currency }
}
"""
EXPERIMENTS = (
    f"query {{ experiments(first: 50) {{ edges {{ node {{ id results {{ {RESULTS} }} }} }} }} }}"
)
EXPERIMENT = f"query ($id: ID!) {{ experiment(id: $id) {{ results {{ {RESULTS} }} }} }}"


async def test_a_page_of_experiments_computes_their_results_together(
    tenant: Tenant, commands: CommandCounter
) -> None:
    shoppers = [await make_customer(tenant, f"Shopper{index}") for index in range(3)]
    made: list[str] = []

    async def run_more(upto: int) -> None:
        for index in range(len(made), upto):
            campaign_id = await make_campaign(tenant, f"Tested {index}")
            variants = [
                {"key": "a", "weight": 50, "discount": {"type": "PERCENT", "percentOff": 20}},
                {"key": "b", "weight": 50},
            ]
            values = {
                "campaignId": campaign_id,
                "name": f"Test {index}",
                "variants": variants,
                "holdoutWeight": 20 if index % 2 else 0,
            }
            created = (await tenant.gql(CREATE_EXPERIMENT, {"input": values}))["createExperiment"]
            assert created["errors"] == []
            experiment_id = created["experiment"]["id"]
            await tenant.gql(START_EXPERIMENT, {"id": experiment_id})
            made.append(experiment_id)
            # Each shopper is assigned an arm; those with a code redeem it on a paid order.
            for number, shopper in enumerate(shoppers):
                variables = {"campaignId": campaign_id, "customerId": shopper}
                published = (await tenant.gql(PUBLISH, variables))["publishCode"]
                if published["code"] is None:
                    continue
                code = published["code"]["code"]
                await redeem(tenant, code, shopper)
                order = {
                    "id": f"o-{index}-{number}",
                    "customerId": shopper,
                    "amount": {"amount": 4000, "currency": "EUR"},
                    "codes": [code],
                }
                assert (await tenant.gql(RECORD_ORDER, {"input": order}))["recordOrder"][
                    "errors"
                ] == []

    await run_more(2)
    _, small_calls = await commands.count(tenant.gql, EXPERIMENTS)
    await run_more(20)
    large, large_calls = await commands.count(tenant.gql, EXPERIMENTS)

    assert_same_calls(small_calls, large_calls)
    listed = {e["node"]["id"]: e["node"]["results"] for e in large["experiments"]["edges"]}
    assert set(listed) == set(made)
    for experiment_id in made:
        alone = (await tenant.gql(EXPERIMENT, {"id": experiment_id}))["experiment"]["results"]
        assert listed[experiment_id] == alone
    arms = [arm for results in listed.values() for arm in results["variants"]]
    assert sum(arm["assigned"] for arm in arms) > 0 and sum(arm["converted"] for arm in arms) > 0
    assert {arm["discountCost"]["currency"] for arm in arms} == {"EUR"}
