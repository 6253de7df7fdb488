"""SMS through the real Twilio SDK, pointed at a local server speaking Twilio's Messages API."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from api.settings import Settings
from delivery.channels import Envelope, PermanentSendError, TransientSendError
from delivery.sms import TwilioHttpClient, close_sms_clients, send_sms
from tests.delivery.fakes import FakeTwilioServer, free_port

CALLBACK = "https://engage.example/hooks/twilio/status"


def sms_envelope(**changes: str) -> Envelope:
    values: dict[str, Any] = {
        "message_id": "665f1c2e9b1e8a0012345678",
        "project_id": "665f1c2e9b1e8a00000000aa",
        "to": "+33612345678",
        "text": "Bakery Bloom: 15% off with SPRING-AB12 https://engage.example/c/SPRING-AB12",
        "status_callback": CALLBACK,
    }
    values.update(changes)
    return Envelope(**values)


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    await close_sms_clients()


def twilio_settings(server: FakeTwilioServer, **changes: object) -> Settings:
    return Settings(**{**server.settings(), **changes})


async def test_the_sdk_posts_the_message_fields_with_basic_auth(twilio: FakeTwilioServer) -> None:
    sid = await send_sms(twilio_settings(twilio), sms_envelope())

    [call] = twilio.calls
    assert call.authorized and call.account_sid == twilio.account_sid
    assert call.form == {
        "To": "+33612345678",
        "From": twilio.from_number,
        "Body": "Bakery Bloom: 15% off with SPRING-AB12 https://engage.example/c/SPRING-AB12",
        "StatusCallback": CALLBACK,
    }
    assert call.status == 201
    assert sid == call.sid and sid.startswith("SM")


async def test_a_sender_of_the_envelope_wins_and_a_messaging_service_is_passed_as_such(
    twilio: FakeTwilioServer,
) -> None:
    settings = twilio_settings(twilio)
    await send_sms(settings, sms_envelope(sender="+15005550001", status_callback=""))
    await send_sms(settings, sms_envelope(sender="MG" + "a" * 32))

    first, second = twilio.calls
    assert first.form["From"] == "+15005550001" and "StatusCallback" not in first.form
    assert second.form["MessagingServiceSid"] == "MG" + "a" * 32 and "From" not in second.form


async def test_429_is_transient_and_the_retry_is_sent(twilio: FakeTwilioServer) -> None:
    settings = twilio_settings(twilio)
    twilio.respond(429)

    with pytest.raises(TransientSendError, match="429"):
        await send_sms(settings, sms_envelope())
    sid = await send_sms(settings, sms_envelope())

    assert [call.status for call in twilio.calls] == [429, 201]
    assert [call.sid for call in twilio.sent()] == [sid]


async def test_5xx_is_transient(twilio: FakeTwilioServer) -> None:
    twilio.respond(503)
    with pytest.raises(TransientSendError, match="503"):
        await send_sms(twilio_settings(twilio), sms_envelope())


async def test_400_is_permanent_with_twilios_error_code(twilio: FakeTwilioServer) -> None:
    twilio.respond(400, times=None, code=21211)
    with pytest.raises(PermanentSendError, match="21211"):
        await send_sms(twilio_settings(twilio), sms_envelope())
    assert twilio.sent() == []


async def test_wrong_credentials_are_permanent(twilio: FakeTwilioServer) -> None:
    with pytest.raises(PermanentSendError, match="401"):
        await send_sms(twilio_settings(twilio, twilio_auth_token="0" * 32), sms_envelope())
    [call] = twilio.calls
    assert not call.authorized


async def test_no_server_listening_is_transient() -> None:
    settings = Settings(
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="t" * 32,
        twilio_from="+15005550006",
        twilio_api_url=f"http://127.0.0.1:{free_port()}",
    )
    with pytest.raises(TransientSendError, match="connection"):
        await send_sms(settings, sms_envelope())


async def test_a_server_slower_than_the_timeout_is_transient() -> None:
    with FakeTwilioServer(delay=1.0) as slow, pytest.raises(TransientSendError):
        await send_sms(twilio_settings(slow, twilio_timeout_seconds=0.2), sms_envelope())


async def test_messages_share_one_connection_until_the_clients_are_closed(
    twilio: FakeTwilioServer,
) -> None:
    settings = twilio_settings(twilio)
    await send_sms(settings, sms_envelope())
    await send_sms(settings, sms_envelope())
    await close_sms_clients()
    await send_sms(settings, sms_envelope())

    first, second, third = (call.peer for call in twilio.calls)
    assert first == second != third


def test_only_twilio_hosts_are_rewritten() -> None:
    http = TwilioHttpClient.__new__(TwilioHttpClient)
    http.api_url = "http://127.0.0.1:9000/proxy"

    assert (
        http.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
        == "http://127.0.0.1:9000/proxy/2010-04-01/Accounts/AC1/Messages.json"
    )
    assert http.rewrite("https://example.com/x") == "https://example.com/x"
