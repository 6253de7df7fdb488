"""Plain HTTP endpoints facing the public: non-ASCII tokens and oversized bodies get a 4xx, and
the PassKit log writes a bounded amount."""

from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import Settings
from domain import wallet
from domain.campaigns import Campaign, Discount, DiscountType
from domain.codes import Code, normalize_code
from domain.wallet import PassKind, PassLog
from tests.factories import Tenant


async def a_code(tenant: Tenant) -> Code:
    campaign = Campaign(
        project_id=tenant.project_id,
        name="Gift",
        discount=Discount(type=DiscountType.PERCENT, percent_off=20),
    )
    await campaign.insert()
    code = Code(
        project_id=tenant.project_id,
        code=normalize_code("GIFT-42"),
        display="GIFT-42",
        campaign_id=campaign.key,
    )
    await code.insert()
    return code


@pytest.mark.parametrize("token", ["é", "токен", "\u2603" * 27, "%F0%9F%98%80"])
async def test_non_ascii_pass_link_tokens_are_refused(
    http: httpx.AsyncClient, tenant: Tenant, token: str
) -> None:
    await a_code(tenant)
    apple = await http.get("/passes/apple/GIFT-42.pkpass", params={"token": token})
    assert apple.status_code == 403
    google = await http.get("/passes/google/GIFT-42", params={"token": token})
    assert google.status_code == 403


@pytest.mark.parametrize("token", ["é", "abc.é", "é.é", "%C3%A9.%E2%98%83", "YWJj.\u2603"])
async def test_non_ascii_unsubscribe_tokens_get_the_invalid_link_page(
    http: httpx.AsyncClient, token: str
) -> None:
    for method in ("GET", "POST"):
        response = await http.request(method, f"/unsubscribe/{token}")
        assert response.status_code == 404


async def test_a_non_ascii_pass_authentication_token_is_401(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    code = await a_code(tenant)
    wallet_pass = await wallet.ensure_pass(
        tenant.project_id, PassKind.COUPON, campaign_id=code.campaign_id, code=code.code
    )
    response = await http.get(
        f"/wallet/v1/passes/{settings.apple_pass_type_id}/{wallet_pass.serial}",
        headers={"Authorization": "ApplePass é".encode("latin-1")},  # type: ignore[dict-item]
    )
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/hooks/twilio/status", "/hooks/twilio/inbound"])
async def test_twilio_hooks_refuse_bodies_over_the_limit(
    http: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    form = {"MessageSid": "SM1", "Body": "x" * settings.hook_max_body_bytes}
    declared = await http.post(path, data=form)
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.hook_max_body_bytes // 4096 + 2):
            yield b"Body=" + b"x" * 4091

    streamed = await http.post(
        path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413


async def test_the_passkit_log_refuses_bodies_over_the_limit(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    response = await http.post(
        "/wallet/v1/log", json={"logs": ["x" * settings.hook_max_body_bytes]}
    )
    assert response.status_code == 413
    assert await PassLog.count() == 0


async def test_the_passkit_log_writes_a_bounded_amount(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [f"line {index} " + "y" * 2_000 for index in range(25)]
    response = await http.post("/wallet/v1/log", json={"logs": lines})
    assert response.status_code == 200
    stored = await PassLog.find_all().to_list()
    assert len(stored) == wallet.MAX_LOG_LINES == 20
    assert all(len(entry.line) <= wallet.MAX_LOG_LINE == 500 for entry in stored)


async def test_the_passkit_log_keeps_control_characters_out(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = '{"logs": ["fetch failed\\u0000\\nINFO forged record", "half \\ud800 pair"]}'
    response = await http.post(
        "/wallet/v1/log", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    stored = sorted(entry.line for entry in await PassLog.find_all().to_list())
    assert stored == ["fetch failed\ufffd\ufffdINFO forged record", "half \ufffd pair"]
    device_lines = [r for r in caplog.records if r.name == "engage.wallet.apple"]
    assert all("\n" not in record.getMessage() for record in device_lines)
