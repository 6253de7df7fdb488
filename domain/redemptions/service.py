"""Redeeming codes once per idempotency key and rolling redemptions back exactly once."""

import asyncio
import contextlib
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import webhooks
from domain.campaigns import Campaign
from domain.codes import normalize_code
from domain.common import as_utc, object_id, utc_now
from domain.discounts import Order
from domain.errors import CommonError, DomainError
from domain.messages import carrier_of
from domain.redemptions.counters import counters_of, give_back_all, take_counters
from domain.redemptions.errors import RedemptionError
from domain.redemptions.models import Redemption, RedemptionChannel, RedemptionStatus
from domain.redemptions.queries import get_redemption
from domain.redemptions.reasons import Reason, reason_error
from domain.redemptions.sweeps import STALE_CLAIM_AGE, reconcile_campaign
from domain.redemptions.validation import Validation, evaluate
from domain.wallet import wallet_content_changed

# How long a retry waits for the first attempt with the same idempotency key to finish.
FIRST_ATTEMPT_WAIT = timedelta(seconds=30)
MAX_IDEMPOTENCY_KEY = 200
MAX_ROLLBACK_REASON = 500


def _already_at_limit(check: Validation) -> list[Reason]:
    """Refusals readable from the documents validation just loaded, before anything is written."""
    assert check.code is not None and check.campaign is not None
    limits = check.campaign.limits
    reasons: list[Reason] = []
    if limits.per_code is not None and check.code.redeemed_count >= limits.per_code:
        reasons.append(Reason.CODE_LIMIT_REACHED)
    if limits.total is not None and check.campaign.redeemed_count >= limits.total:
        reasons.append(Reason.CAMPAIGN_LIMIT_REACHED)
    return reasons


async def _earlier_attempt(project_id: str, key: str, code: str) -> tuple[Redemption | None, bool]:
    """The settled redemption made with this key, waiting while it is in flight, and whether an
    attempt was in flight at all. (None, True): it was refused or cleared, so evaluate again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_ATTEMPT_WAIT.total_seconds()
    delay = 0.01
    waited = False
    while True:
        earlier = await Redemption.find_one({"project_id": project_id, "idempotency_key": key})
        if earlier is None:
            return None, waited
        if earlier.code != code:
            raise DomainError(
                CommonError.IDEMPOTENCY_KEY_REUSED,
                "this idempotency key was used to redeem another code",
                "idempotencyKey",
            )
        if earlier.status != RedemptionStatus.PENDING:
            return earlier, waited
        waited = True
        if as_utc(earlier.created_at) < utc_now() - STALE_CLAIM_AGE:
            await reconcile_campaign(project_id=project_id, campaign_id=earlier.campaign_id)
            continue
        if loop.time() > deadline:
            raise DomainError(
                RedemptionError.REDEMPTION_IN_PROGRESS,
                "a request with this idempotency key is still in progress; retry later",
                "idempotencyKey",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def redeem_code(
    *,
    project_id: str,
    raw_code: str,
    customer_id: str | None,
    order: Order | None,
    idempotency_key: str | None,
    channel: RedemptionChannel,
    api_key_id: str,
    now: datetime | None = None,
) -> Redemption:
    """Redeems a code once, or raises a DomainError carrying every reason it cannot be.

    Order of work: validate (reads only), insert the claim (the idempotency key's unique index
    makes one attempt the owner), take every counter atomically, mark the claim SUCCEEDED. A
    refusal gives back the counters and removes the claim, so a retry evaluates again.
    """
    moment = as_utc(now) if now is not None else utc_now()
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            CommonError.INVALID,
            f"an idempotency key has at most {MAX_IDEMPOTENCY_KEY} characters",
            "idempotencyKey",
        )
    customer_id = (customer_id or "").strip() or None
    code_value = normalize_code(raw_code)
    # Each turn either settles or finds an earlier attempt with the key that was refused.
    for _ in range(5):
        check = await evaluate(
            project_id=project_id,
            raw_code=raw_code,
            customer_id=customer_id,
            order=order,
            now=moment,
            with_limits=False,
        )
        refusal = check.reasons or _already_at_limit(check)
        if refusal:
            if key is not None:
                earlier, was_in_flight = await _earlier_attempt(project_id, key, code_value)
                if earlier is not None:
                    return earlier
                if was_in_flight:
                    # What refused us may have been that attempt's counters: look again.
                    continue
            raise reason_error(refusal)
        assert check.code is not None and check.campaign is not None
        claim = Redemption(
            project_id=project_id,
            code=check.code.code,
            code_id=str(check.code.id),
            campaign_id=check.campaign.key,
            customer_id=customer_id or "",
            order=order,
            discount=check.discount,
            channel=channel,
            api_key_id=api_key_id,
            idempotency_key=key,
            day=check.day,
            experiment_id=check.code.experiment_id,
            variant=check.code.variant,
        )
        try:
            await claim.insert()
        except DuplicateKeyError:
            assert key is not None
            earlier, _ = await _earlier_attempt(project_id, key, code_value)
            if earlier is not None:
                return earlier
            continue
        return await _complete(claim, check.campaign, moment)
    raise DomainError(
        RedemptionError.REDEMPTION_IN_PROGRESS,
        "requests with this idempotency key keep being refused and retried; retry later",
        "idempotencyKey",
    )


async def _complete(claim: Redemption, campaign: Campaign, now: datetime) -> Redemption:
    collection = Redemption.get_pymongo_collection()
    try:
        await take_counters(redemption=claim, campaign=campaign, now=now)
    except BaseException:
        with contextlib.suppress(Exception):
            await collection.delete_one({"_id": claim.id, "status": RedemptionStatus.PENDING.value})
        raise
    completed_at = utc_now()
    # Attributed in the same write that completes the redemption, so a crash cannot split them.
    carrier = await carrier_of(claim.project_id, claim.code, completed_at)
    attribution = (
        {"message_id": carrier.key, "message_channel": carrier.channel.value} if carrier else {}
    )
    event = None
    if await webhooks.listens(
        project_id=claim.project_id, event_type=webhooks.REDEMPTION_SUCCEEDED
    ):
        event = await _prepare(
            claim.model_copy(
                update={
                    "status": RedemptionStatus.SUCCEEDED,
                    "completed_at": completed_at,
                    **attribution,
                }
            ),
            webhooks.REDEMPTION_SUCCEEDED,
        )
    result = await collection.update_one(
        {"_id": claim.id, "status": RedemptionStatus.PENDING.value},
        {
            "$set": {
                "status": RedemptionStatus.SUCCEEDED.value,
                "completed_at": completed_at,
                **attribution,
            }
        },
    )
    if result.matched_count == 0:
        # Reconciliation took the claim for a dead process's and removed it.
        await give_back_all(counters_of(redemption=claim, campaign=None))
        raise DomainError(
            RedemptionError.REDEMPTION_EXPIRED,
            "the redemption took too long and was cancelled; retry",
            "code",
        )
    claim.status = RedemptionStatus.SUCCEEDED
    claim.completed_at = completed_at
    if carrier is not None:
        claim.message_id, claim.message_channel = carrier.key, carrier.channel.value
    await webhooks.confirm_event(event)
    await wallet_content_changed(claim.project_id, code=claim.code)
    return claim


async def _prepare(redemption: Redemption, event_type: str) -> webhooks.PreparedEvent | None:
    """The event, written before the status flip it announces, so that a process dying between
    the two cannot lose it. A success may be rolled back before the worker looks."""
    made = [redemption.status.value]
    if redemption.status == RedemptionStatus.SUCCEEDED:
        made.append(RedemptionStatus.ROLLED_BACK.value)
    return await webhooks.prepare_event(
        project_id=redemption.project_id,
        event_type=event_type,
        object_key=f"redemption:{redemption.id}",
        data=webhooks.objects.redemption(redemption),
        dedupe_key=f"{event_type}:{redemption.id}",
        change=webhooks.Change(
            collection=Redemption.get_collection_name(),
            document_id=str(redemption.id),
            field="status",
            values=tuple(made),
        ),
    )


async def rollback_redemption(*, project_id: str, redemption_id: str, reason: str) -> Redemption:
    """Undoes a redemption exactly once: one conditional flip, then every counter given back."""
    oid = object_id(redemption_id, "redemption")
    collection = Redemption.get_pymongo_collection()
    rollback = {
        "status": RedemptionStatus.ROLLED_BACK,
        "rolled_back_at": utc_now(),
        "rollback_reason": reason.strip()[:MAX_ROLLBACK_REASON],
    }
    event = None
    if await webhooks.listens(project_id=project_id, event_type=webhooks.REDEMPTION_ROLLED_BACK):
        # The event's object is the redemption as the flip leaves it, read only when wanted.
        current = await Redemption.find_one({"_id": oid, "project_id": project_id})
        if current is not None and current.status == RedemptionStatus.SUCCEEDED:
            event = await _prepare(
                current.model_copy(update=rollback), webhooks.REDEMPTION_ROLLED_BACK
            )
    flipped = await collection.find_one_and_update(
        {"_id": oid, "project_id": project_id, "status": RedemptionStatus.SUCCEEDED.value},
        {"$set": {**rollback, "status": RedemptionStatus.ROLLED_BACK.value}},
        return_document=ReturnDocument.AFTER,
    )
    if flipped is None:
        existing = await get_redemption(project_id=project_id, redemption_id=redemption_id)
        if existing.status == RedemptionStatus.ROLLED_BACK:
            raise DomainError(
                RedemptionError.ALREADY_ROLLED_BACK, "this redemption was already rolled back", "id"
            )
        raise DomainError(
            RedemptionError.NOT_COMPLETED, "this redemption has not completed yet", "id"
        )
    redemption = Redemption.model_validate(flipped)
    await webhooks.confirm_event(event)
    await give_back_all(counters_of(redemption=redemption, campaign=None))
    await collection.update_one({"_id": oid}, {"$set": {"holds_counters": False}})
    redemption.holds_counters = False
    await wallet_content_changed(project_id, code=redemption.code)
    return redemption
