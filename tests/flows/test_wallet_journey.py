"""A wallet pass's life: downloaded, added on a device, the code redeemed at the till, the device
pushed over HTTP/2 by the real outbox worker, the voided pass fetched, a dead token dropped."""

import asyncio
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from delivery import sink
from delivery.wallet import apns, certificates
from delivery.worker import BackgroundWorker, OutboxWorker, Outcome
from domain import links
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import create_project
from domain.wallet import PassRegistration, WalletPass
from tests.delivery.fake_apns import FakeApns
from tests.factories import GraphQLClient, Tenant

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code field message } }
}"""
REDEEM = """
mutation ($code: String!) {
  redeemCode(code: $code, idempotencyKey: "till-7") { redemption { id } errors { code } }
}"""
PASS_TYPE = "pass.dev.engage.local"


@pytest.fixture
def apns_server(settings: Settings, tmp_path: Path) -> Iterator[FakeApns]:
    chain = certificates.ensure_development_chain(
        settings.data_dir, settings.apple_pass_type_id, settings.apple_team_id
    )
    with FakeApns(chain, tmp_path / "apns") as server:
        yield server


def pass_json(body: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return dict(json.loads(archive.read("pass.json")))


def fields_of(style: dict[str, Any]) -> dict[str, Any]:
    groups = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
    return {f["key"]: f["value"] for group in groups for f in style.get(group, [])}


async def add_to_wallet(
    http: httpx.AsyncClient, settings: Settings, project_id: str, code: str, devices: list[str]
) -> dict[str, Any]:
    token = links.pass_link_token(settings.secret_key, project_id, code)
    download = await http.get(f"/passes/apple/{code}.pkpass", params={"token": token})
    assert download.status_code == 200
    body = pass_json(download.content)
    for device in devices:
        registered = await http.post(
            f"/wallet/v1/devices/{device}/registrations/{PASS_TYPE}/{body['serialNumber']}",
            json={"pushToken": f"push-{device}"},
            headers={"Authorization": f"ApplePass {body['authenticationToken']}"},
        )
        assert registered.status_code == 201
    return body


async def test_a_redeemed_coupon_reaches_the_device_and_dead_tokens_are_dropped(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, apns_server: FakeApns
) -> None:
    campaign = {
        "name": "Welcome",
        "discount": {"type": "PERCENT", "percentOff": 20},
        "standaloneCode": "WELCOME20",
        "limits": {"perCode": 1},
    }
    assert (await tenant.gql(CREATE_CAMPAIGN, {"input": campaign}))["createCampaign"][
        "errors"
    ] == []
    body = await add_to_wallet(
        http, settings, tenant.project_id, "WELCOME20", ["phone", "old-ipad"]
    )
    serial, token = body["serialNumber"], body["authenticationToken"]
    apple_auth = {"Authorization": f"ApplePass {token}"}
    listing = f"/wallet/v1/devices/phone/registrations/{PASS_TYPE}"
    first = await http.get(listing)
    old_tag = first.json()["lastUpdated"]
    latest_url = f"/wallet/v1/passes/{PASS_TYPE}/{serial}"
    before = await http.get(latest_url, headers=apple_auth)
    assert before.status_code == 200
    assert "voided" not in pass_json(before.content)

    # At the till.
    redeemed = await tenant.gql(REDEEM, {"code": "welcome-20"})
    assert redeemed["redeemCode"]["errors"] == []

    # The old iPad removed the pass long ago: APNs says the token is gone.
    apns_server.answers["push-old-ipad"] = (410, "Unregistered")
    worker = OutboxWorker(settings.model_copy(update=apns_server.settings()), concurrency=2)
    try:
        assert await worker.run_until_idle() == 2
    finally:
        await apns.close_clients()
    received = apns_server.received()
    assert sorted(push.path for push in received) == [
        "/3/device/push-old-ipad",
        "/3/device/push-phone",
    ]
    for push in received:
        assert push.http_version == "2"
        assert push.headers["apns-topic"] == PASS_TYPE
        assert push.body == b"{}"
    sent = await Message.find({"channel": MessageChannel.APPLE_PUSH.value}).to_list()
    assert {m.status for m in sent} == {MessageStatus.SENT}
    assert not any(m.sink for m in sent)
    assert {m.to: m.provider_id.startswith("gone") for m in sent} == {
        "push-phone": False,
        "push-old-ipad": True,
    }
    remaining = await PassRegistration.find({"serial": serial}).to_list()
    assert [r.device_library_id for r in remaining] == ["phone"]

    # The phone, woken by the push, asks what changed and fetches the new pass.
    changed = await http.get(listing, params={"passesUpdatedSince": old_tag})
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(old_tag)
    stale = await http.get(
        latest_url, headers={**apple_auth, "If-Modified-Since": before.headers["last-modified"]}
    )
    assert stale.status_code == 200
    voided = pass_json(stale.content)
    assert voided["voided"] is True
    assert fields_of(voided["coupon"])["status"].startswith("Redeemed on ")
    unchanged = await http.get(
        latest_url, headers={**apple_auth, "If-Modified-Since": stale.headers["last-modified"]}
    )
    assert unchanged.status_code == 304
    assert (
        await http.get(listing, params={"passesUpdatedSince": changed.json()["lastUpdated"]})
    ).status_code == 204


async def test_apns_failures_are_retried_or_given_up_as_they_deserve(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, apns_server: FakeApns
) -> None:
    campaign = {
        "name": "Retry",
        "discount": {"type": "PERCENT", "percentOff": 5},
        "standaloneCode": "RETRY5",
    }
    await tenant.gql(CREATE_CAMPAIGN, {"input": campaign})
    await add_to_wallet(http, settings, tenant.project_id, "RETRY5", ["busy", "bad"])
    apns_server.answers["push-busy"] = (503, "ServiceUnavailable")
    apns_server.answers["push-bad"] = (400, "BadDeviceToken")
    await tenant.gql(REDEEM, {"code": "RETRY5"})
    worker = OutboxWorker(settings.model_copy(update=apns_server.settings()), concurrency=1)
    try:
        # One attempt each: the jittered backoff may make the retry due at once.
        outcomes = {await worker.run_one(), await worker.run_one()}
        assert outcomes == {Outcome.RETRY, Outcome.FAILED}
    finally:
        await apns.close_clients()
    by_token = {m.to: m for m in await Message.find({"channel": "APPLE_PUSH"}).to_list()}
    assert by_token["push-busy"].status == MessageStatus.QUEUED
    assert by_token["push-busy"].open and "503" in by_token["push-busy"].error
    assert by_token["push-bad"].status == MessageStatus.FAILED
    assert "BadDeviceToken" in by_token["push-bad"].error
    # Neither answer is a 410: both registrations stay.
    assert len(await PassRegistration.find_all().to_list()) == 2


async def test_pushes_without_a_push_service_or_for_a_sandbox_are_recorded(
    http: httpx.AsyncClient, settings: Settings, apns_server: FakeApns
) -> None:
    project, issued = await create_project("sandbox shop", sandbox=True)
    gql = GraphQLClient(http, issued.secret)
    campaign = {
        "name": "Sandbox",
        "discount": {"type": "PERCENT", "percentOff": 5},
        "standaloneCode": "TRY5",
    }
    await gql(CREATE_CAMPAIGN, {"input": campaign})
    body = await add_to_wallet(http, settings, project.key, "TRY5", ["phone"])
    await gql(REDEEM, {"code": "TRY5"})
    # The push service is configured, but a sandbox project's pushes never leave.
    worker = OutboxWorker(settings.model_copy(update=apns_server.settings()), concurrency=1)
    assert await worker.run_until_idle() == 1
    assert apns_server.received() == []
    records = sink.read_log(settings.sink_dir, project.key, "pushes.log")
    assert [(r["to"], r["serial"], r["topic"]) for r in records] == [
        ("push-phone", body["serialNumber"], PASS_TYPE)
    ]
    message = await Message.find_one({"channel": "APPLE_PUSH"})
    assert message is not None and message.sink and message.status == MessageStatus.SENT


async def test_a_push_left_pending_by_a_dead_process_is_sent_by_the_running_loop(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, apns_server: FakeApns
) -> None:
    """The redeeming process dies once the pass is moved, before any worker looked: the marker
    it left is found by the worker loop of another process, which pushes the device."""
    campaign = {
        "name": "Later",
        "discount": {"type": "PERCENT", "percentOff": 5},
        "standaloneCode": "LATER5",
    }
    await tenant.gql(CREATE_CAMPAIGN, {"input": campaign})
    body = await add_to_wallet(http, settings, tenant.project_id, "LATER5", ["phone"])
    assert (await tenant.gql(REDEEM, {"code": "LATER5"}))["redeemCode"]["errors"] == []
    moved = await WalletPass.find_one({"serial": body["serialNumber"]})
    assert moved is not None and moved.push_pending
    assert await Message.find({"channel": MessageChannel.APPLE_PUSH.value}).count() == 0

    outbox = OutboxWorker(settings.model_copy(update=apns_server.settings()), concurrency=1)
    loop = BackgroundWorker(outbox)
    loop.start()
    try:
        # Until the push is settled: received by APNs, then recorded as sent.
        for _ in range(400):
            if await Message.find({"status": MessageStatus.SENT.value}).count():
                break
            await asyncio.sleep(0.025)
    finally:
        await loop.stop()
        await apns.close_clients()
    assert [push.path for push in apns_server.received()] == ["/3/device/push-phone"]
    settled = await WalletPass.find_one({"serial": body["serialNumber"]})
    assert settled is not None and not settled.push_pending
    [sent] = await Message.find({"channel": MessageChannel.APPLE_PUSH.value}).to_list()
    assert sent.payload["tag"] == moved.last_updated and sent.status == MessageStatus.SENT
