"""The auth tokens that may sign a Twilio webhook: the installation's and projects' own."""

import logging
from collections.abc import Sequence

from domain.projects import Project
from domain.providers import twilio_auth_token
from domain.secret_box import SecretKeyMismatch

log = logging.getLogger("engage.twilio_accounts")


async def project_auth_tokens(account_sid: str, secret_keys: Sequence[str]) -> list[str]:
    """The auth tokens of the projects whose own Twilio account is `account_sid`."""
    if not account_sid:
        return []
    tokens: list[str] = []
    async for project in Project.find({"messaging.twilio.account_sid": account_sid}):
        account = project.messaging.twilio
        if account is None or account.account_sid != account_sid:
            continue
        try:
            tokens.append(twilio_auth_token(secret_keys, project.key, account))
        except SecretKeyMismatch:
            log.warning("project %s: its Twilio auth token cannot be read", project.key)
    return tokens
