"""Redeeming codes once per idempotency key and rolling redemptions back exactly once."""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain import rules, webhooks
from domain.batches import WriteBatcher
from domain.campaigns import Campaign, CampaignKind
from domain.codes import Code, find_code, normalize_code
from domain.common import as_utc, object_id, utc_now
from domain.discounts import Order
from domain.errors import CommonError, DomainError
from domain.messages import carrier_of
from domain.projects import key_is_active
from domain.redemptions.counters import Counter, counters_of, give_back_all, take_counters
from domain.redemptions.errors import RedemptionError
from domain.redemptions.models import (
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    idempotency_slot,
)
from domain.redemptions.queries import get_redemption
from domain.redemptions.reasons import (
    Reason,
    customer_reasons,
    order_reasons,
    reason_error,
    window_reasons,
)
from domain.redemptions.sweeps import STALE_CLAIM_AGE, reconcile_campaign
from domain.redemptions.validation import (
    Validation,
    customer_for_campaign,
    customer_in_segments,
    evaluate,
)
from domain.snapshots import CampaignSnapshot, CodeIdentity, Snapshots
from domain.wallet import wallet_content_changed

# Claims of concurrent redemptions share round trips (group commit), and so do their
# completions: two batchers, so that a bulk of claims in flight does not hold up completions.
_redemption_writes = WriteBatcher(Redemption.get_pymongo_collection)
_completions = WriteBatcher(Redemption.get_pymongo_collection)
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
        earlier = await Redemption.find_one(
            {"idempotency_slot": idempotency_slot(project_id, key)}
        ) or await Redemption.find_one({"project_id": project_id, "idempotency_key": key})
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
    snapshots: Snapshots | None = None,
) -> Redemption:
    """Redeems a code once, or raises a DomainError carrying every reason it cannot be.

    Order of work: claim the idempotency key (its unique index makes one attempt the owner),
    check, take every counter with its limit in the filter, mark the claim SUCCEEDED. A
    refusal gives back the counters and removes the claim, so a retry evaluates again.

    The usual redemption takes the fast way (`_redeem_fast`): the campaign and the code's
    campaign come from `snapshots`, checked at the campaign's $inc. A refusal, a code in an
    experiment or a code not seen before take the checked way, which reads everything.
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
    known = snapshots if snapshots is not None else Snapshots()
    request = _Request(
        project_id=project_id,
        raw_code=raw_code,
        code_value=code_value,
        customer_id=customer_id,
        order=order,
        key=key,
        channel=channel,
        api_key_id=api_key_id,
        moment=moment,
        key_from_copy=snapshots is not None and bool(api_key_id),
    )
    for _ in range(5):
        outcome = await _redeem_fast(request, known)
        if isinstance(outcome, Redemption):
            return outcome
        if outcome is _Outcome.UNDECIDED:
            return await _redeem_checked(request, known)
    return await _redeem_checked(request, known)


# What a redemption reads of the code it takes.
CODE_FIELDS_READ = {
    "assigned": 1,
    "customer_id": 1,
    "experiment_id": 1,
    "variant": 1,
    "carried": 1,
    "wallet_pass": 1,
}


def _revoked() -> DomainError:
    return DomainError(RedemptionError.API_KEY_REVOKED, "the API key of this request was revoked")


@dataclass(frozen=True)
class _Request:
    project_id: str
    raw_code: str
    code_value: str
    customer_id: str | None
    order: Order | None
    key: str | None
    channel: RedemptionChannel
    api_key_id: str
    moment: datetime
    # The caller's key was read from a copy (GraphQL): a revocation elsewhere is checked for.
    key_from_copy: bool


class _Outcome(Enum):
    # The snapshot was stale and has been re-read: try again.
    STALE = "STALE"
    # Refused, or not for the fast way: the checked way decides and says every reason.
    UNDECIDED = "UNDECIDED"


async def _claim(request: _Request, claim: Redemption) -> Redemption | _Outcome | None:
    """Inserts the claim; with an idempotency key, one upsert that also finds an earlier attempt
    with the key (returned settled, after waiting while it is in flight). None: claimed;
    STALE: the earlier attempt was refused meanwhile."""
    if request.key is None:
        inserted = await _redemption_writes.insert_one(claim.model_dump(by_alias=True))
        if inserted.duplicate:
            raise DuplicateKeyError("a claim with this id exists")
        return None
    document = claim.model_dump(by_alias=True)
    selector = {"idempotency_slot": idempotency_slot(request.project_id, request.key)}
    for name in selector:
        document.pop(name)
    claimed = await _redemption_writes.update_one(selector, {"$setOnInsert": document}, upsert=True)
    if claimed.upserted:
        return None
    # Not upserted: an earlier attempt holds the key, or a racing one inserted first.
    earlier, _ = await _earlier_attempt(request.project_id, request.key, request.code_value)
    return _Outcome.STALE if earlier is None else earlier


async def _undo(claim: Redemption, taken: list[Counter], *, code_has_pass: bool = False) -> None:
    """Gives back what a refused or stale attempt took and removes its claim. `taken` is
    emptied first, so undoing twice gives nothing back twice. The code's counter given back
    changes its pass's content back: the pass moves again (a download in between may have
    kept an archive of the code used)."""
    counters = list(taken)
    taken.clear()
    await give_back_all(counters)
    await Redemption.get_pymongo_collection().delete_one(
        {"_id": claim.id, "status": RedemptionStatus.PENDING.value}
    )
    if counters and code_has_pass:
        await wallet_content_changed(claim.project_id, code=claim.code)


async def _redeem_fast(request: _Request, known: Snapshots) -> Redemption | _Outcome:
    """The usual redemption in as few round trips as it can be done correctly: the claim (one
    upsert, which answers a retry); the customer's read beside the code's and the campaign's
    conditional $inc (the code's returns the code, the campaign's the stored campaign); the
    per-customer and per-day counters when the campaign limits them; the completing update.
    Alone: 5 calls, 6 with a per-customer limit. Counters taken at once mean a refused attempt
    may hold one for a round trip before giving it back: a rival near that limit may be
    refused early, never admitted beyond it."""
    project_id = request.project_id
    identity = known.codes.get((project_id, request.code_value))
    if identity is None:
        found = await find_code(project_id, request.raw_code) if request.code_value else None
        if found is None or found.id is None:
            return _Outcome.UNDECIDED
        identity = CodeIdentity(code_id=found.id, campaign_id=found.campaign_id)
        known.codes.put((project_id, request.code_value), identity)
    snapshot = await known.campaign(project_id, identity.campaign_id)
    if snapshot is None:
        return _Outcome.UNDECIDED
    campaign = snapshot.campaign
    if campaign.kind != CampaignKind.DISCOUNT or window_reasons(
        campaign=campaign, now=request.moment
    ):
        return _Outcome.UNDECIDED
    for_order, discount = order_reasons(campaign=campaign, order=request.order)
    if for_order:
        return _Outcome.UNDECIDED
    # Built from values already checked (the order by its input type, the discount computed
    # here): the model's validation would only repeat that work on the hot path.
    claim = Redemption.model_construct(
        id=ObjectId(),
        project_id=project_id,
        code=request.code_value,
        code_id=str(identity.code_id),
        campaign_id=identity.campaign_id,
        customer_id=request.customer_id or "",
        order=request.order,
        discount=discount,
        channel=request.channel,
        api_key_id=request.api_key_id,
        idempotency_key=request.key,
        idempotency_slot=idempotency_slot(project_id, request.key),
        day=rules.day_key(request.moment, campaign.timezone),
        # Given, not left to its default factory, which pydantic inspects on every call.
        created_at=utc_now(),
    )
    earlier = await _claim(request, claim)
    if earlier is not None:
        # A retry: the earlier attempt's redemption, or STALE when it was refused meanwhile.
        return earlier
    taken: list[Counter] = []
    code_has_pass = False
    try:
        counters = counters_of(redemption=claim, campaign=campaign, now=request.moment)
        code_counter, *others, campaign_counter = counters
        # The customer's read beside every counter but the customer's own, which is made on
        # first use: it goes along only for a customer this app saw lately, else once the
        # read says the customer may redeem, so an unknown customer leaves no counter behind.
        customer_seen = known.customer_seen(project_id, request.customer_id)
        along = [c for c in others if customer_seen or c.reason != Reason.CUSTOMER_LIMIT_REACHED]
        after = [c for c in others if c not in along]
        may_redeem, code, stored, *granted = await asyncio.gather(
            _customer_may_redeem(request, campaign, known),
            code_counter.take_returning(CODE_FIELDS_READ),
            campaign_counter.take_returning(),
            *(counter.take() for counter in along),
            return_exceptions=True,
        )
        if isinstance(code, dict):
            taken.append(code_counter)
            code_has_pass = bool(code.get("wallet_pass"))
        if stored is not None and not isinstance(stored, BaseException):
            taken.append(campaign_counter)
        taken.extend(counter for counter, ok in zip(along, granted, strict=True) if ok is True)
        for outcome in (may_redeem, code, stored, *granted):
            if isinstance(outcome, BaseException):
                raise outcome
        if code is None:
            await _undo(claim, taken, code_has_pass=code_has_pass)
            known.codes.forget((project_id, request.code_value))
            return _Outcome.UNDECIDED
        assert isinstance(code, dict) and isinstance(stored, dict | None)
        assigned_elsewhere = bool(
            code.get("assigned")
            and request.customer_id
            and code.get("customer_id") != request.customer_id
        )
        if not may_redeem or code.get("experiment_id") or assigned_elsewhere:
            await _undo(claim, taken, code_has_pass=code_has_pass)
            return _Outcome.UNDECIDED
        if stored is None or not snapshot.matches(stored):
            await _undo(claim, taken, code_has_pass=code_has_pass)
            return await _stale_campaign(request, known, snapshot, stored)
        granted_after = await asyncio.gather(*(counter.take() for counter in after))
        taken.extend(counter for counter, ok in zip(after, granted_after, strict=True) if ok)
        for counter, ok in zip(along + after, [*granted, *granted_after], strict=True):
            if not ok:
                await _undo(claim, taken, code_has_pass=code_has_pass)
                raise reason_error([counter.reason])
    except BaseException:
        # A crash or cancellation mid-way: what cannot be undone here, reconciliation will.
        with contextlib.suppress(Exception):
            await _undo(claim, taken, code_has_pass=code_has_pass)
        raise
    return await _complete(claim, code, request.moment)


@cache
def _unassigned() -> Code:
    """A code assigned to nobody, read only: the fast way's codes are checked for their owner
    at the code's $inc instead."""
    return Code.model_construct(assigned=False, customer_id="")


async def _customer_may_redeem(request: _Request, campaign: Campaign, known: Snapshots) -> bool:
    """The rules about who redeems, as far as the customer decides them (one read)."""
    customer = (
        await customer_for_campaign(
            project_id=request.project_id, customer_id=request.customer_id, campaign=campaign
        )
        if request.customer_id
        else None
    )
    if customer is not None:
        known.saw_customer(request.project_id, customer.key)
    if customer_reasons(
        campaign=campaign, code=_unassigned(), customer_id=request.customer_id, customer=customer
    ):
        return False
    return not (
        campaign.rules.segment_ids
        and customer is not None
        and not await customer_in_segments(
            project_id=request.project_id,
            customer=customer,
            segment_ids=campaign.rules.segment_ids,
        )
    )


async def _stale_campaign(
    request: _Request, known: Snapshots, snapshot: CampaignSnapshot, stored: dict[str, Any] | None
) -> _Outcome:
    """The campaign's $inc refused or returned a campaign other than the copy checked against.
    Re-reads it; a moved revision may be a revoked key, which is checked again."""
    project_id, campaign_id = request.project_id, snapshot.campaign.key
    known.forget_campaign(project_id, campaign_id)
    fresh = await known.campaign(project_id, campaign_id)
    if fresh is None:
        return _Outcome.UNDECIDED
    if fresh.campaign.revision != snapshot.campaign.revision and request.key_from_copy:
        known.forget_key(request.api_key_id)
        if not await key_is_active(project_id=project_id, key_id=request.api_key_id):
            raise _revoked()
    if stored is None and fresh.offer == snapshot.offer:
        # The copy was right: the campaign is at its total.
        raise reason_error([Reason.CAMPAIGN_LIMIT_REACHED])
    return _Outcome.STALE


async def _redeem_checked(request: _Request, known: Snapshots) -> Redemption:
    """Every document read afresh and every reason found: refusals, codes in experiments,
    codes not seen before."""
    project_id, key = request.project_id, request.key
    # Each turn either settles or finds an earlier attempt with the key that was refused.
    for _ in range(5):
        check = await evaluate(
            project_id=project_id,
            raw_code=request.raw_code,
            customer_id=request.customer_id,
            order=request.order,
            now=request.moment,
            with_limits=False,
        )
        refusal = check.reasons or _already_at_limit(check)
        if refusal:
            if key is not None:
                earlier, was_in_flight = await _earlier_attempt(project_id, key, request.code_value)
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
            customer_id=request.customer_id or "",
            order=request.order,
            discount=check.discount,
            channel=request.channel,
            api_key_id=request.api_key_id,
            idempotency_key=key,
            idempotency_slot=idempotency_slot(project_id, key),
            day=check.day,
            experiment_id=check.code.experiment_id,
            variant=check.code.variant,
        )
        try:
            await claim.insert()
        except DuplicateKeyError:
            assert key is not None
            earlier, _ = await _earlier_attempt(project_id, key, request.code_value)
            if earlier is not None:
                return earlier
            continue
        try:
            # The caller's key came from a copy: this way has no campaign copy to notice a
            # revocation by, so the key is read again.
            if request.key_from_copy and not await key_is_active(
                project_id=project_id, key_id=request.api_key_id
            ):
                raise _revoked()
            await take_counters(redemption=claim, campaign=check.campaign, now=request.moment)
        except BaseException:
            with contextlib.suppress(Exception):
                await _undo(claim, [])
                if check.code.wallet_pass:
                    # The code's counter may have been taken and given back meanwhile.
                    await wallet_content_changed(project_id, code=claim.code)
            raise
        return await _complete(claim, check.code.model_dump(), request.moment)
    raise DomainError(
        RedemptionError.REDEMPTION_IN_PROGRESS,
        "requests with this idempotency key keep being refused and retried; retry later",
        "idempotencyKey",
    )


async def _complete(claim: Redemption, code: dict[str, Any], now: datetime) -> Redemption:
    """Marks the claim SUCCEEDED, attributed in the same write so a crash cannot split them.
    Only a code some message carried looks for that message, and only a code with a wallet
    pass touches it: one update that moves the pass and marks its pushes pending, before the
    claim completes, so a process dying in between leaves a claim that reconciliation
    settles (and moves the pass again for)."""
    collection = Redemption.get_pymongo_collection()
    completed_at = utc_now()
    carrier = (
        await carrier_of(claim.project_id, claim.code, completed_at)
        if code.get("carried")
        else None
    )
    fields: dict[str, Any] = {
        "status": RedemptionStatus.SUCCEEDED.value,
        "completed_at": completed_at,
        "experiment_id": str(code.get("experiment_id") or ""),
        "variant": str(code.get("variant") or ""),
    }
    if carrier is not None:
        fields |= {"message_id": carrier.key, "message_channel": carrier.channel.value}
    event = None
    if await webhooks.listens(
        project_id=claim.project_id, event_type=webhooks.REDEMPTION_SUCCEEDED
    ):
        event = await _prepare(
            claim.model_copy(
                update={
                    **fields,
                    "status": RedemptionStatus.SUCCEEDED,
                    "completed_at": completed_at,
                }
            ),
            webhooks.REDEMPTION_SUCCEEDED,
        )
    code_has_pass = bool(code.get("wallet_pass"))
    if code_has_pass:
        await wallet_content_changed(claim.project_id, code=claim.code)
    completed = await _completions.update_one(
        {"_id": claim.id, "status": RedemptionStatus.PENDING.value}, {"$set": fields}
    )
    matched = completed.matched
    if matched is None:
        # Only some completions of the batch matched: this one did if the claim carries it.
        stored = await collection.find_one({"_id": claim.id}, {"completed_at": 1})
        stored_at = stored.get("completed_at") if stored is not None else None
        matched = stored_at is not None and as_utc(stored_at) == completed_at
    if not matched:
        # Reconciliation took the claim for a dead process's and removed it.
        await give_back_all(counters_of(redemption=claim, campaign=None))
        if code_has_pass:
            await wallet_content_changed(claim.project_id, code=claim.code)
        raise DomainError(
            RedemptionError.REDEMPTION_EXPIRED,
            "the redemption took too long and was cancelled; retry",
            "code",
        )
    claim.status = RedemptionStatus.SUCCEEDED
    claim.completed_at = completed_at
    claim.experiment_id, claim.variant = fields["experiment_id"], fields["variant"]
    if carrier is not None:
        claim.message_id, claim.message_channel = carrier.key, carrier.channel.value
    await webhooks.confirm_event(event)
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
    # Before the counters are marked given back: a process dying in between leaves a rollback
    # that reconciliation completes, and moves the pass for.
    await wallet_content_changed(project_id, code=redemption.code)
    await collection.update_one({"_id": oid}, {"$set": {"holds_counters": False}})
    redemption.holds_counters = False
    return redemption
