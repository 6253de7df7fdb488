"""Pure referral rules: whether a program runs, link addresses, and keyed IP hashes."""

import hashlib
import hmac
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from domain.campaigns import Campaign, CampaignKind, CampaignStatus
from domain.common import as_utc
from domain.errors import DomainError
from domain.referrals.errors import ReferralError
from domain.referrals.models import ReferralCode


def program_problem(*, campaign: Campaign, now: datetime) -> DomainError | None:
    if campaign.kind != CampaignKind.REFERRAL or campaign.referral is None:
        return DomainError(
            ReferralError.NOT_REFERRAL, "this campaign is not a referral program", "campaignId"
        )
    ended = campaign.ends_at is not None and now >= as_utc(campaign.ends_at)
    early = campaign.starts_at is not None and now < as_utc(campaign.starts_at)
    if campaign.status != CampaignStatus.ACTIVE or ended or early:
        return DomainError(
            ReferralError.PROGRAM_NOT_ACTIVE, "the referral program is not active", "campaignId"
        )
    return None


def referral_url(*, base_url: str, code: ReferralCode) -> str:
    return f"{base_url.rstrip('/')}/r/{quote(code.code, safe='')}"


def hash_ip(*, ip: str, secret_key: str) -> str:
    """Keyed with the service's secret, so a stored hash cannot be reversed by trying IPs."""
    return hmac.new(secret_key.encode(), ip.encode(), hashlib.sha256).hexdigest()


def landing_with_ref(*, landing_url: str, code: str | None) -> str:
    """The landing URL with its own query kept and `ref` set to the code (removed for None)."""
    parts = urlsplit(landing_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    ref = [] if code is None else [("ref", code)]
    return urlunsplit(parts._replace(query=urlencode([*kept, *ref])))
