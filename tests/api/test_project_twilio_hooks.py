"""Twilio webhooks for a project's own account: signed with that account's auth token."""

import httpx
import pytest

from api.settings import Settings
from domain.messages import MessageStatus
from domain.projects import MessagingChanges, update_messaging
from domain.providers import TwilioChanges
from tests.api.test_hooks import post_signed, reload, sent_sms, status_form
from tests.delivery.fakes import AUTH_TOKEN
from tests.factories import Tenant

PROJECT_SID = "AC" + "fedcba9876543210" * 2
PROJECT_TOKEN = "e" * 32


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The installation has a Twilio account too."""
    return settings.model_copy(
        update={"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": AUTH_TOKEN}
    )


async def own_account(tenant: Tenant, settings: Settings) -> None:
    changes = TwilioChanges(
        account_sid=PROJECT_SID, auth_token=PROJECT_TOKEN, sender="+15005550009"
    )
    await update_messaging(tenant.project_id, MessagingChanges(twilio=changes), settings.secret_key)


async def test_a_status_report_signed_with_the_projects_own_token_is_recorded(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await own_account(tenant, settings)
    message = await sent_sms(tenant)
    form = status_form("delivered", AccountSid=PROJECT_SID)

    response = await post_signed(http, "/hooks/twilio/status", form, token=PROJECT_TOKEN)

    assert response.status_code == 204
    assert (await reload(message)).status == MessageStatus.DELIVERED


async def test_the_project_token_signs_only_for_its_own_account_sid(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    await own_account(tenant, settings)
    message = await sent_sms(tenant)
    # Signed with the project's token but naming the installation's account, or the
    # project's account signed with the installation's token: both refused.
    installation_sid = status_form("delivered")
    mismatched = status_form("delivered", AccountSid=PROJECT_SID)

    refused = [
        await post_signed(http, "/hooks/twilio/status", installation_sid, token=PROJECT_TOKEN),
        await post_signed(http, "/hooks/twilio/status", mismatched, token="d" * 32),
    ]

    assert [response.status_code for response in refused] == [403, 403]
    assert (await reload(message)).status == MessageStatus.SENT
    # The installation's own token still signs its reports.
    accepted = await post_signed(http, "/hooks/twilio/status", installation_sid, token=AUTH_TOKEN)
    assert accepted.status_code == 204


async def test_without_an_installation_token_a_project_account_still_verifies(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    settings.twilio_auth_token = ""
    settings.twilio_account_sid = ""
    await own_account(tenant, settings)
    message = await sent_sms(tenant)
    form = status_form("delivered", AccountSid=PROJECT_SID)

    response = await post_signed(http, "/hooks/twilio/status", form, token=PROJECT_TOKEN)

    assert response.status_code == 204
    assert (await reload(message)).status == MessageStatus.DELIVERED
