"""Delivery: rendering beside bare Jinja2, and sending through the outbox beside direct sends.

Run: .venv/bin/python -m bench.delivery [--renders 5000] [--messages 1000]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own. Email goes to a
local SMTP server (aiosmtpd), SMS through the Twilio SDK to a local server speaking Twilio's API.

1. Rendering the built-in coupon email (subject, HTML, text) for one customer and code: ours is
   the sandboxed, autoescaped, StrictUndefined render with its context built per message; the
   floor is a plain jinja2.Environment rendering the same sources with a ready dict.
2. Sending: messages queued in the outbox and sent by an OutboxWorker (lease, consent check,
   send, settle), beside the same envelopes sent straight to the provider with no outbox.
"""

import asyncio
import time
import uuid

import jinja2

from api.database import init_database, make_client
from api.settings import Settings
from bench._harness import (
    Figures,
    arguments,
    database,
    measure,
    print_comparison,
    ratio_line,
    shop_with_campaign,
)
from delivery import email, rendering, sms
from delivery.channels import Envelope
from delivery.worker import OutboxWorker
from domain.codes import Code
from domain.common import utc_now
from domain.customers import Consents, Customer
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import Messaging, Project
from tests.delivery.fakes import FakeSmtpServer, FakeTwilioServer

BASE_URL = "https://shop.example"
SECRET = "bench-secret-bench-secret-bench-secret"


async def bench_rendering(count: int) -> tuple[Figures, Figures]:
    project, campaign = await shop_with_campaign()
    customer = Customer(
        project_id=project.key,
        name="Ada <b>Lovelace</b>",
        email="ada@example.com",
        consents=Consents(email=True),
    )
    await customer.insert()
    code = Code(
        project_id=project.key,
        code="SPRING2026ABCD",
        display="SPRING-2026-ABCD",
        campaign_id=campaign.key,
        customer_id=customer.key,
        assigned=True,
    )
    await code.insert()
    template = rendering.builtin_template(name="coupon", channel=MessageChannel.EMAIL)
    prefix = rendering.context_prefix(
        base_url=BASE_URL, secret_key=SECRET, project=project, campaign=campaign
    )

    async def ours(_: int) -> None:
        rendered = await rendering.render_for(
            template=template, prefix=prefix, customer=customer, code=code, campaign=campaign
        )
        assert code.code in rendered.text

    # The floor: the same sources in a plain environment, with the context already built.
    context = rendering.message_context(
        prefix=prefix, channel=MessageChannel.EMAIL, customer=customer, code=code, campaign=campaign
    )
    plain_html = jinja2.Environment(autoescape=True)
    plain_text = jinja2.Environment(autoescape=False)  # noqa: S701 (text bodies are not HTML)
    subject = plain_text.from_string(template.subject_source)
    html = plain_html.from_string(template.html_source)
    text = plain_text.from_string(template.text_source)

    async def bare(_: int) -> None:
        subject.render(context)
        html.render(context)
        assert code.code in text.render(context)

    return (
        await measure("render (sandbox, context per message)", count, 1, ours),
        await measure("bare jinja2 render", count, 1, bare),
    )


async def _queue(project: Project, customer: Customer, channel: MessageChannel, count: int) -> None:
    to = customer.email if channel == MessageChannel.EMAIL else customer.phone
    await Message.insert_many(
        [
            Message(
                project_id=project.key,
                channel=channel,
                customer_id=customer.key,
                to=to or "",
                subject=f"Your code {n}",
                body_text=f"Your code N{n:06d}. Reply STOP to opt out",
                body_html=f"<p>Your code N{n:06d}</p>" if channel == MessageChannel.EMAIL else "",
            )
            for n in range(count)
        ]
    )


async def _drain(worker: OutboxWorker, project: Project, count: int, label: str) -> Figures:
    """Runs the worker until the outbox is empty. A message's latency here is the time from
    the start of the run until it was marked SENT."""
    started_at = utc_now()
    started = time.perf_counter()
    handled = await worker.run_until_idle()
    seconds = time.perf_counter() - started
    sent = await Message.find(
        {"project_id": project.key, "status": MessageStatus.SENT.value}
    ).to_list()
    assert handled == count and len(sent) == count, (handled, len(sent))
    waits = [((m.sent_at or started_at) - started_at).total_seconds() for m in sent]
    return Figures(label, count, seconds, waits)


def _envelope(n: int, to: str) -> Envelope:
    return Envelope(
        message_id=uuid.uuid4().hex,
        project_id="bench",
        to=to,
        subject=f"Your code {n}",
        text=f"Your code N{n:06d}. Reply STOP to opt out",
        html=f"<p>Your code N{n:06d}</p>",
        sender="Bench <bench@example.com>",
    )


async def bench_sending(settings: Settings, count: int, concurrency: int) -> list[Figures]:
    results: list[Figures] = []
    with FakeSmtpServer() as smtp, FakeTwilioServer() as twilio:
        configured = settings.model_copy(update={**smtp.settings(), **twilio.settings()})
        for channel in (MessageChannel.EMAIL, MessageChannel.SMS):
            project = Project(name=f"bench-{channel.value}", messaging=Messaging(quiet_hours=False))
            await project.insert()
            customer = Customer(
                project_id=project.key,
                email="ada@example.com",
                phone="+14155550123",
                consents=Consents(email=True, sms=True),
            )
            await customer.insert()
            await _queue(project, customer, channel, count)
            worker = OutboxWorker(configured, concurrency=concurrency)
            label = f"{channel.value.lower()} via outbox worker"
            results.append(await _drain(worker, project, count, label))

            async def direct(n: int, channel: MessageChannel = channel) -> None:
                if channel == MessageChannel.EMAIL:
                    await email.send_email(configured, _envelope(n, "ada@example.com"))
                else:
                    await sms.send_sms(configured, _envelope(n, "+14155550123"))

            results.append(
                await measure(f"{channel.value.lower()} sent directly", count, concurrency, direct)
            )
        assert len(smtp.messages) == 2 * count
        assert len(twilio.sent()) == 2 * count
    await sms.close_sms_clients()
    return results


async def run(uri: str, renders: int, count: int, concurrency: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    client = make_client(uri)
    await init_database(client, name)
    settings = Settings(mongodb_uri=uri, database=name, base_url=BASE_URL, secret_key=SECRET)
    try:
        ours, floor = await bench_rendering(renders)
        sending = await bench_sending(settings, count, concurrency)
    finally:
        await client.drop_database(name)
        await client.close()
    print(f"rendering the built-in coupon email (subject, HTML, text), {renders} times")
    print_comparison(ours, floor)
    print(
        f"\nsending {count} messages per channel, {concurrency} at once, to local SMTP and "
        "Twilio-speaking servers; every message checked as received and stored SENT"
    )
    email_outbox, email_direct, sms_outbox, sms_direct = sending
    for figures in sending:
        print(figures.line())
    print(ratio_line(email_outbox, email_direct))
    print(ratio_line(sms_outbox, sms_direct))


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--renders", type=int, default=5_000)
    parser.add_argument("--messages", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri:
        asyncio.run(run(uri, args.renders, args.messages, args.concurrency))


if __name__ == "__main__":
    main()
