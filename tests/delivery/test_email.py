"""Email through a real SMTP server: the MIME that arrives, and how refusals are classified."""

from collections.abc import Iterator
from typing import Any

import pytest

from api.settings import Settings
from delivery.channels import Envelope, PermanentSendError, TransientSendError
from delivery.email import build_email, send_email
from tests.delivery.fakes import FakeSmtpServer, free_port

COUPON_URL = "https://engage.example/c/SPRING-AB12"
UNSUBSCRIBE_URL = "https://engage.example/unsubscribe/abc.def"


def coupon_envelope(message_id: str = "665f1c2e9b1e8a0012345678", **changes: str) -> Envelope:
    values: dict[str, Any] = {
        "message_id": message_id,
        "project_id": "665f1c2e9b1e8a00000000aa",
        "to": "ada@example.com",
        "subject": "Your 15% coupon",
        "text": f"Hello Ada, your code is SPRING-AB12: {COUPON_URL}",
        "html": f'<p>Hello Ada, your code is <b>SPRING-AB12</b>: <a href="{COUPON_URL}">go</a></p>',
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }
    values.update(changes)
    return Envelope(**values)


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


def smtp_settings(server: FakeSmtpServer, **changes: object) -> Settings:
    return Settings(
        email_from="Bakery Bloom <hello@bloom.example>", **{**server.settings(), **changes}
    )


async def test_the_email_arrives_as_text_and_html_with_code_links_and_unsubscribe(
    smtp: FakeSmtpServer,
) -> None:
    message_id = await send_email(smtp_settings(smtp), coupon_envelope())

    [received] = smtp.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.mail_from == "hello@bloom.example"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    text, html = received.body("plain"), received.body("html")
    assert "SPRING-AB12" in text and COUPON_URL in text
    assert "<b>SPRING-AB12</b>" in html and f'href="{COUPON_URL}"' in html
    assert message["From"] == "Bakery Bloom <hello@bloom.example>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Your 15% coupon"
    assert message["Date"]
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == message_id
    assert message_id == "<engage.665f1c2e9b1e8a0012345678@bloom.example>"


async def test_a_retried_message_carries_the_same_message_id(smtp: FakeSmtpServer) -> None:
    settings = smtp_settings(smtp)
    first = await send_email(settings, coupon_envelope())
    second = await send_email(settings, coupon_envelope())
    other = await send_email(settings, coupon_envelope(message_id="665f1c2e9b1e8a0087654321"))

    received = smtp.wait_for(3)
    assert first == second != other
    assert [r.message["Message-ID"] for r in received] == [first, second, other]


async def test_a_4xx_reply_is_transient_and_the_next_attempt_goes_through(
    smtp: FakeSmtpServer,
) -> None:
    settings = smtp_settings(smtp)
    smtp.fail(451)

    with pytest.raises(TransientSendError, match="451"):
        await send_email(settings, coupon_envelope())
    await send_email(settings, coupon_envelope())

    assert len(smtp.wait_for(1)) == 1
    assert smtp.refused == [("DATA", 451)]


async def test_a_refused_recipient_is_transient_with_4xx_and_permanent_with_5xx(
    smtp: FakeSmtpServer,
) -> None:
    settings = smtp_settings(smtp)
    smtp.fail(450, stage="RCPT")
    with pytest.raises(TransientSendError):
        await send_email(settings, coupon_envelope())

    smtp.fail(550, times=None, stage="RCPT")
    for _ in range(2):
        with pytest.raises(PermanentSendError, match="550"):
            await send_email(settings, coupon_envelope())
    assert smtp.messages == []


async def test_a_5xx_reply_to_the_message_is_permanent(smtp: FakeSmtpServer) -> None:
    smtp.fail(554)
    with pytest.raises(PermanentSendError, match="554"):
        await send_email(smtp_settings(smtp), coupon_envelope())
    assert smtp.messages == []


# The fake server takes AUTH over plain text; a real one would require TLS first.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_credentials_are_used_and_a_wrong_password_is_permanent() -> None:
    with FakeSmtpServer(credentials=("mailer", "s3cret")) as server:
        await send_email(smtp_settings(server), coupon_envelope())
        assert len(server.wait_for(1)) == 1

        with pytest.raises(PermanentSendError, match="535"):
            await send_email(smtp_settings(server, smtp_password="wrong"), coupon_envelope())
        assert len(server.messages) == 1


async def test_starttls_asked_of_a_server_without_it_is_permanent(smtp: FakeSmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="STARTTLS"):
        await send_email(smtp_settings(smtp, smtp_security="starttls"), coupon_envelope())
    assert smtp.messages == []


async def test_no_server_listening_is_transient() -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")
    with pytest.raises(TransientSendError, match="connection"):
        await send_email(settings, coupon_envelope())


@pytest.mark.parametrize("slow", ["delay", "rcpt_delay"])
async def test_a_server_slower_than_the_timeout_is_transient(slow: str) -> None:
    with FakeSmtpServer() as server:
        setattr(server, slow, 1.0)
        settings = smtp_settings(server, smtp_timeout_seconds=0.3)
        with pytest.raises(TransientSendError):
            await send_email(settings, coupon_envelope())


def test_a_text_only_envelope_builds_a_single_part_from_its_own_sender() -> None:
    envelope = coupon_envelope(html="", unsubscribe_url="", sender="Shop <shop@shop.example>")

    message = build_email(envelope, "Engage <no-reply@engage.example>")

    assert message.get_content_type() == "text/plain"
    assert message["From"] == "Shop <shop@shop.example>"
    assert message["Message-ID"] == "<engage.665f1c2e9b1e8a0012345678@shop.example>"
    assert "List-Unsubscribe" not in message
