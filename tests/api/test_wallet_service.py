"""The PassKit web service under /wallet/v1/ as WALLET.md's table has it, and the change hook:
tags that move on every change, pushes queued once per registration and tag, tenancy."""

import asyncio
import io
import json
import zipfile
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
from bson import ObjectId
from starlette.applications import Starlette

from api.settings import Settings
from delivery.wallet.signed_passes import SignedPassCache
from domain import links, loyalty, projects, wallet
from domain.campaigns import Campaign, set_campaign_status
from domain.codes import Code
from domain.common import utc_now
from domain.customer_lifecycle import create_customer
from domain.customers import CustomerInput, update_customer
from domain.messages import Message, MessageChannel
from domain.redemptions.models import Redemption
from domain.redemptions.sweeps import reconcile_campaign
from domain.wallet import PassRegistration, WalletPass
from tests.factories import Tenant

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code field message } }
}"""
REDEEM = """
mutation ($code: String!, $key: String!) {
  redeemCode(code: $code, idempotencyKey: $key) { redemption { id } errors { code } }
}"""
ROLLBACK = """
mutation ($id: ID!) { rollbackRedemption(id: $id, reason: "returned") { errors { code } } }"""
PASS_TYPE = "pass.dev.engage.local"
DEVICE = "device-library-1"


async def a_campaign(tenant: Tenant, code: str = "SAVE10", per_code: int = 2) -> str:
    data = {
        "name": "Save",
        "discount": {"type": "PERCENT", "percentOff": 10},
        "standaloneCode": code,
        "limits": {"perCode": per_code},
    }
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": data}))["createCampaign"]
    assert created["errors"] == []
    return str(created["campaign"]["id"])


async def downloaded_pass(
    http: httpx.AsyncClient, settings: Settings, tenant: Tenant, code: str
) -> dict[str, Any]:
    """Downloads the code's pass; returns its pass.json."""
    token = links.pass_link_token(settings.secret_key, tenant.project_id, code)
    response = await http.get(f"/passes/apple/{code}.pkpass", params={"token": token})
    assert response.status_code == 200, response.text
    return pass_json_of(response.content)


def pass_json_of(archive_bytes: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        return dict(json.loads(archive.read("pass.json")))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def registration_url(serial: str, device: str = DEVICE) -> str:
    return f"/wallet/v1/devices/{device}/registrations/{PASS_TYPE}/{serial}"


async def pushes(project_id: str) -> list[Message]:
    """The pushes queued once the worker's wallet step has run on the pending markers."""
    await wallet.queue_pending_updates()
    return await Message.find(
        {"project_id": project_id, "channel": MessageChannel.APPLE_PUSH.value}
    ).to_list()


async def test_register_list_fetch_unregister_and_log(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]

    # 1: register, 201 then 200; 401 without or with a wrong token, or for another pass type.
    url = registration_url(serial)
    assert (await http.post(url, json={"pushToken": "tok-1"})).status_code == 401
    wrong = await http.post(url, json={"pushToken": "tok-1"}, headers=auth("x" * 32))
    assert wrong.status_code == 401
    other_type = f"/wallet/v1/devices/{DEVICE}/registrations/pass.other/{serial}"
    assert (
        await http.post(other_type, json={"pushToken": "t"}, headers=auth(token))
    ).status_code == 401
    unknown = registration_url("0" * 32)
    assert (
        await http.post(unknown, json={"pushToken": "t"}, headers=auth(token))
    ).status_code == 401
    first = await http.post(url, json={"pushToken": "tok-1"}, headers=auth(token))
    assert first.status_code == 201
    again = await http.post(url, json={"pushToken": "tok-2"}, headers=auth(token))
    assert again.status_code == 200
    registrations = await PassRegistration.find({"serial": serial}).to_list()
    assert [r.push_token for r in registrations] == ["tok-2"]
    assert registrations[0].project_id == tenant.project_id
    assert (await http.post(url, content=b"{", headers=auth(token))).status_code == 400

    # 2: all serials without a tag; 204 after the tag returned.
    listing = f"/wallet/v1/devices/{DEVICE}/registrations/{PASS_TYPE}"
    listed = await http.get(listing)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [serial]
    tag = listed.json()["lastUpdated"]
    assert (await http.get(listing, params={"passesUpdatedSince": tag})).status_code == 204
    assert (
        await http.get(f"/wallet/v1/devices/nobody/registrations/{PASS_TYPE}")
    ).status_code == 204

    # 3: the latest pass with Last-Modified; 304 when unchanged; 401 without the token.
    latest_url = f"/wallet/v1/passes/{PASS_TYPE}/{serial}"
    assert (await http.get(latest_url)).status_code == 401
    latest = await http.get(latest_url, headers=auth(token))
    assert latest.status_code == 200
    assert latest.headers["content-type"] == "application/vnd.apple.pkpass"
    modified = latest.headers["last-modified"]
    unchanged = await http.get(latest_url, headers={**auth(token), "If-Modified-Since": modified})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    # 5: logs are taken.
    logged = await http.post("/wallet/v1/log", json={"logs": ["Could not fetch pass"]})
    assert logged.status_code == 200
    assert [entry.line for entry in await wallet.PassLog.find_all().to_list()] == [
        "Could not fetch pass"
    ]

    # 4: unregister, 401 without the token, 200 with it; the device then lists nothing.
    assert (await http.delete(url)).status_code == 401
    assert (await http.delete(url, headers=auth(token))).status_code == 200
    assert await PassRegistration.find({"serial": serial}).to_list() == []
    assert (await http.get(listing)).status_code == 204


async def test_redeem_and_rollback_move_the_tag_and_queue_one_push_per_device(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    for device, push_token in (("phone", "tok-phone"), ("watch", "tok-watch")):
        created = await http.post(
            registration_url(serial, device), json={"pushToken": push_token}, headers=auth(token)
        )
        assert created.status_code == 201
    before = await WalletPass.find_one({"serial": serial})
    assert before is not None

    redeemed = await tenant.gql(REDEEM, {"code": "save-10", "key": "k1"})
    redemption_id = redeemed["redeemCode"]["redemption"]["id"]
    after = await WalletPass.find_one({"serial": serial})
    assert after is not None
    assert after.last_updated > before.last_updated
    assert after.updated_at > before.updated_at
    # The redemption set the marker; the pushes are the worker's to queue.
    assert after.push_pending
    assert await Message.find({"channel": MessageChannel.APPLE_PUSH.value}).count() == 0
    queued = await pushes(tenant.project_id)
    assert sorted(m.to for m in queued) == ["tok-phone", "tok-watch"]
    assert {m.payload["serial"] for m in queued} == {serial}
    assert {m.payload["tag"] for m in queued} == {after.last_updated}

    listing = f"/wallet/v1/devices/phone/registrations/{PASS_TYPE}"
    changed = await http.get(listing, params={"passesUpdatedSince": str(before.last_updated)})
    assert changed.json() == {"serialNumbers": [serial], "lastUpdated": str(after.last_updated)}

    # A rolled-back redemption is a change too: the tag moves again, new pushes are queued.
    rolled = await tenant.gql(ROLLBACK, {"id": redemption_id})
    assert rolled["rollbackRedemption"]["errors"] == []
    last = await WalletPass.find_one({"serial": serial})
    assert last is not None and last.last_updated > after.last_updated
    assert len(await pushes(tenant.project_id)) == 4
    settled = await WalletPass.find_one({"serial": serial})
    assert settled is not None and not settled.push_pending


async def test_a_code_without_a_pass_queues_nothing(tenant: Tenant) -> None:
    await a_campaign(tenant)
    redeemed = await tenant.gql(REDEEM, {"code": "SAVE10", "key": "k"})
    assert redeemed["redeemCode"]["errors"] == []
    assert await pushes(tenant.project_id) == []
    assert await WalletPass.find_all().to_list() == []


async def test_a_retried_hook_queues_each_tag_once(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    await http.post(registration_url(serial), json={"pushToken": "t"}, headers=auth(token))
    bumped = await wallet.wallet_content_changed(tenant.project_id, code="SAVE10")
    assert bumped is not None
    assert len(await pushes(tenant.project_id)) == 1
    # The same tag queued again (a worker that died before clearing the marker): the unique
    # key keeps one message.
    again = await wallet._queue_updates(
        tenant.project_id, [bumped], {bumped.serial: bumped.last_updated}
    )
    assert again == 0
    await WalletPass.get_pymongo_collection().update_one(
        {"_id": bumped.id}, {"$set": {"push_pending": True}}
    )
    assert len(await pushes(tenant.project_id)) == 1


async def test_concurrent_changes_give_every_change_its_own_tag(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    await http.post(registration_url(serial), json={"pushToken": "t"}, headers=auth(token))
    results = await asyncio.gather(
        *(wallet.wallet_content_changed(tenant.project_id, code="SAVE10") for _ in range(8))
    )
    tags = [r.last_updated for r in results if r is not None]
    assert len(set(tags)) == 8
    stamps = {r.updated_at for r in results if r is not None}
    assert len(stamps) == 8
    # The worker comes after all of them: one push, for the latest tag.
    assert [m.payload["tag"] for m in await pushes(tenant.project_id)] == [max(tags)]


async def test_pausing_a_campaign_moves_all_its_passes_and_pushes_registered_ones(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    campaign_id = await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    await http.post(registration_url(serial), json={"pushToken": "t"}, headers=auth(token))
    # Another pass of a code of the same campaign, not registered anywhere.
    await Code(
        project_id=tenant.project_id, code="SAVE10B", display="SAVE10B", campaign_id=campaign_id
    ).insert()
    await downloaded_pass(http, settings, tenant, "SAVE10B")
    before = {p.serial: p for p in await WalletPass.find_all().to_list()}

    await set_campaign_status(
        project_id=tenant.project_id, campaign_id=campaign_id, status="PAUSED"
    )
    after = {p.serial: p for p in await WalletPass.find_all().to_list()}
    assert all(after[s].last_updated > before[s].last_updated for s in before)
    assert all(after[s].updated_at > before[s].updated_at for s in before)
    queued = await pushes(tenant.project_id)
    assert [m.payload["serial"] for m in queued] == [serial]

    latest = await http.get(f"/wallet/v1/passes/{PASS_TYPE}/{serial}", headers=auth(token))
    assert latest.status_code == 200


async def test_a_loyalty_balance_change_moves_the_store_card(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": {"name": "Club", "kind": "LOYALTY"}}))[
        "createCampaign"
    ]
    program_id = created["campaign"]["id"]
    customer = await create_customer(tenant.project_id, CustomerInput(name="Bo"), source="test")
    card = await loyalty.ensure_card(
        project_id=tenant.project_id, campaign_id=program_id, customer_id=customer.key
    )
    token = links.pass_link_token(
        settings.secret_key, tenant.project_id, links.card_pass_subject(card.key)
    )
    response = await http.get(f"/passes/apple/cards/{card.key}.pkpass", params={"token": token})
    assert response.status_code == 200
    before = await wallet.find_pass(tenant.project_id, card_id=card.key)
    assert before is not None
    await loyalty.grant_points(
        project_id=tenant.project_id,
        campaign_id=program_id,
        customer_id=customer.key,
        points=40,
        key="k",
        reason="bonus",
    )
    after = await wallet.find_pass(tenant.project_id, card_id=card.key)
    assert after is not None and after.last_updated > before.last_updated


async def test_a_campaign_ended_by_time_is_never_answered_304(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    """Time alone changes the pass: the archive held for the old window is not served, the
    rebuilt pass moves the tag, and the device is told."""
    campaign_id = await a_campaign(tenant)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    await http.post(registration_url(serial), json={"pushToken": "t"}, headers=auth(token))
    latest_url = f"/wallet/v1/passes/{PASS_TYPE}/{serial}"
    first = await http.get(latest_url, headers=auth(token))
    assert first.status_code == 200
    stored = await WalletPass.find_one({"serial": serial})
    assert stored is not None and not stored.push_pending

    # The end of the campaign, as it is once its moment has passed: nothing else is written.
    ended = utc_now() - timedelta(seconds=5)
    await Campaign.get_pymongo_collection().update_one(
        {"_id": ObjectId(campaign_id)}, {"$set": {"ends_at": ended}}
    )
    await WalletPass.get_pymongo_collection().update_one(
        {"_id": stored.id}, {"$set": {"ends_at": ended}}
    )
    fresh = await http.get(
        latest_url, headers={**auth(token), "If-Modified-Since": first.headers["last-modified"]}
    )
    assert fresh.status_code == 200
    assert pass_json_of(fresh.content)["voided"] is True
    moved = await WalletPass.find_one({"serial": serial})
    assert moved is not None and moved.last_updated > stored.last_updated
    assert fresh.headers["last-modified"] != first.headers["last-modified"]
    # The registered device is told as well.
    assert [m.payload["tag"] for m in await pushes(tenant.project_id)] == [moved.last_updated]
    # From then on it is unchanged again.
    later = format_datetime(utc_now() + timedelta(days=1), usegmt=True)
    same = await http.get(latest_url, headers={**auth(token), "If-Modified-Since": later})
    assert same.status_code == 304


async def test_a_redemption_left_half_done_moves_the_pass_when_reconciled(
    http: httpx.AsyncClient, app: Starlette, tenant: Tenant, settings: Settings
) -> None:
    """A process died after taking the code's counter (a download meanwhile kept the used-up
    pass): reconciliation gives the counter back and moves the pass, so the held archive is
    not served again and the device is told."""
    campaign_id = await a_campaign(tenant, per_code=1)
    body = await downloaded_pass(http, settings, tenant, "SAVE10")
    serial, token = body["serialNumber"], body["authenticationToken"]
    await http.post(registration_url(serial), json={"pushToken": "t"}, headers=auth(token))
    code = await Code.find_one({"project_id": tenant.project_id, "code": "SAVE10"})
    assert code is not None and code.wallet_pass
    await Redemption(
        project_id=tenant.project_id,
        code="SAVE10",
        code_id=str(code.id),
        campaign_id=campaign_id,
        day="2026-01-01",
        created_at=utc_now() - timedelta(minutes=5),
    ).insert()
    await Code.get_pymongo_collection().update_one(
        {"_id": code.id}, {"$set": {"redeemed_count": 1, "last_redeemed_at": utc_now()}}
    )
    # A process started meanwhile holds no archive: it builds the pass, code used up, and
    # keeps it for the tag the pass still has.
    app.state.signed_passes = SignedPassCache()
    latest_url = f"/wallet/v1/passes/{PASS_TYPE}/{serial}"
    held = await http.get(latest_url, headers=auth(token))
    assert held.status_code == 200
    assert pass_json_of(held.content)["voided"] is True
    stored = await WalletPass.find_one({"serial": serial})
    assert stored is not None

    report = await reconcile_campaign(project_id=tenant.project_id, campaign_id=campaign_id)
    assert report.stale_claims_removed == 1
    moved = await WalletPass.find_one({"serial": serial})
    assert moved is not None and moved.last_updated > stored.last_updated and moved.push_pending
    fresh = await http.get(
        latest_url, headers={**auth(token), "If-Modified-Since": held.headers["last-modified"]}
    )
    assert fresh.status_code == 200
    assert "voided" not in pass_json_of(fresh.content)
    assert [m.payload["tag"] for m in await pushes(tenant.project_id)] == [moved.last_updated]


async def test_tenancy_a_pass_token_opens_only_its_own_pass(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    await a_campaign(other_tenant)
    mine = await downloaded_pass(http, settings, tenant, "SAVE10")
    theirs = await downloaded_pass(http, settings, other_tenant, "SAVE10")
    assert mine["serialNumber"] != theirs["serialNumber"]
    assert mine["authenticationToken"] != theirs["authenticationToken"]
    # My token does not open or register their pass.
    crossed = await http.get(
        f"/wallet/v1/passes/{PASS_TYPE}/{theirs['serialNumber']}",
        headers=auth(mine["authenticationToken"]),
    )
    assert crossed.status_code == 401
    refused = await http.post(
        registration_url(theirs["serialNumber"]),
        json={"pushToken": "t"},
        headers=auth(mine["authenticationToken"]),
    )
    assert refused.status_code == 401
    # One device holding both: each registration is in its pass's project, and a redemption
    # in one project pushes only for that project's pass.
    for body in (mine, theirs):
        answer = await http.post(
            registration_url(body["serialNumber"]),
            json={"pushToken": "tok"},
            headers=auth(body["authenticationToken"]),
        )
        assert answer.status_code == 201
    projects = {r.serial: r.project_id for r in await PassRegistration.find_all().to_list()}
    assert projects == {
        mine["serialNumber"]: tenant.project_id,
        theirs["serialNumber"]: other_tenant.project_id,
    }
    await tenant.gql(REDEEM, {"code": "SAVE10", "key": "k"})
    assert await pushes(other_tenant.project_id) == []
    assert [m.payload["serial"] for m in await pushes(tenant.project_id)] == [mine["serialNumber"]]


async def test_a_customer_may_download_their_own_code_with_their_token(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    from domain.codes import publish_code
    from domain.customers import issue_customer_token

    campaign = {
        "name": "Personal",
        "discount": {"type": "AMOUNT", "amountOff": {"amount": 500, "currency": "EUR"}},
    }
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": campaign}))["createCampaign"]
    owner = await create_customer(tenant.project_id, CustomerInput(name="Cy"), source="t")
    other = await create_customer(tenant.project_id, CustomerInput(name="Di"), source="t")
    code = await publish_code(tenant.project_id, created["campaign"]["id"], owner.key)
    own_token = await issue_customer_token(tenant.project_id, owner.key)
    other_token = await issue_customer_token(tenant.project_id, other.key)
    path = f"/passes/apple/{code.display}.pkpass"
    assert (
        await http.get(path, headers={"Authorization": f"Bearer {own_token}"})
    ).status_code == 200
    assert (
        await http.get(path, headers={"Authorization": f"Bearer {other_token}"})
    ).status_code == 403
    assert (
        await http.get(path, headers={"Authorization": f"Bearer {tenant.admin_key}"})
    ).status_code == 403


async def test_a_brand_change_and_a_renamed_holder_move_the_passes_that_show_them(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await a_campaign(tenant)
    coupon = await downloaded_pass(http, settings, tenant, "SAVE10")
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": {"name": "Club", "kind": "LOYALTY"}}))[
        "createCampaign"
    ]
    customer = await create_customer(tenant.project_id, CustomerInput(name="Bo"), source="test")
    card = await loyalty.ensure_card(
        project_id=tenant.project_id,
        campaign_id=created["campaign"]["id"],
        customer_id=customer.key,
    )
    card_url = f"/passes/apple/cards/{card.key}.pkpass"
    card_token = links.pass_link_token(
        settings.secret_key, tenant.project_id, links.card_pass_subject(card.key)
    )
    first_card = await http.get(card_url, params={"token": card_token})
    assert pass_json_of(first_card.content)["storeCard"]["secondaryFields"][0]["value"] == "Bo"

    await update_customer(tenant.project_id, customer.key, CustomerInput(name="Bea"), "test")
    renamed = await http.get(card_url, params={"token": card_token})
    assert pass_json_of(renamed.content)["storeCard"]["secondaryFields"][0]["value"] == "Bea"
    # The coupon does not show the holder: it did not move.
    assert [p.push_pending for p in await WalletPass.find({"kind": "COUPON"}).to_list()] == [False]

    await projects.update_brand(tenant.project_id, projects.BrandChanges(name="Spring Shop"))
    assert all(p.push_pending for p in await WalletPass.find_all().to_list())
    assert (await downloaded_pass(http, settings, tenant, "SAVE10"))["organizationName"] == (
        "Spring Shop"
    )
    assert coupon["organizationName"] != "Spring Shop"
    rebranded = await http.get(card_url, params={"token": card_token})
    assert pass_json_of(rebranded.content)["organizationName"] == "Spring Shop"
