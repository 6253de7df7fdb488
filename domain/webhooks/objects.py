"""The object each event carries: ids, amounts, statuses and times, never contact details or
message text. Read from the domain's documents by field, so this module imports none of them."""

from typing import Any


def _money(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"amount": value.amount, "currency": value.currency}


def redemption(doc: Any) -> dict[str, Any]:
    order = doc.order
    return {
        "id": str(doc.id),
        "code": doc.code,
        "codeId": doc.code_id,
        "campaignId": doc.campaign_id,
        "customerId": doc.customer_id or None,
        "status": doc.status,
        "discount": _money(doc.discount),
        "order": None if order is None else {"id": order.id, "amount": _money(order.amount)},
        "channel": doc.channel,
        "createdAt": doc.created_at,
        "completedAt": doc.completed_at,
        "rolledBackAt": doc.rolled_back_at,
        "rollbackReason": doc.rollback_reason or None,
    }


def code(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "code": doc.code,
        "campaignId": doc.campaign_id,
        "customerId": doc.customer_id or None,
        "publishedAt": doc.published_at,
    }


def order(doc: Any) -> dict[str, Any]:
    return {
        "id": doc.order_id,
        "customerId": doc.customer_id or None,
        "amount": _money(doc.amount),
        "status": doc.status,
        "codes": list(doc.codes),
        "campaignIds": list(doc.campaign_ids),
        "items": len(doc.items),
        "createdAt": doc.created_at,
        "statusChangedAt": doc.status_changed_at,
    }


def referral(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "campaignId": doc.campaign_id,
        "code": doc.code,
        "referrerId": doc.referrer_id,
        "refereeId": doc.referee_id,
        "status": doc.status,
        "qualifyingOrderId": doc.qualifying_order_id or None,
        "qualifiedAt": doc.qualified_at,
        "rewardedAt": doc.rewarded_at,
    }


def ledger_entry(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "campaignId": doc.campaign_id,
        "customerId": doc.customer_id,
        "cardId": doc.card_id,
        "kind": doc.kind,
        "points": doc.points,
        "reason": doc.reason or None,
        "source": doc.source or None,
        "expiresAt": doc.expires_at,
        "createdAt": doc.created_at,
    }


def message(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "channel": doc.channel,
        "status": doc.status,
        "customerId": doc.customer_id or None,
        "templateId": doc.template_id or None,
        "code": doc.code or None,
        "campaignId": doc.campaign_id or None,
        "jobId": doc.job_id or None,
        # A suppression's reason names the address: only provider failures are passed on.
        "error": (doc.error or None) if doc.status == "FAILED" else None,
        "sentAt": doc.sent_at,
        "deliveredAt": doc.delivered_at,
    }


def customer(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "sourceId": None if doc.erased else doc.source_id,
        "createdAt": doc.created_at,
        "erased": doc.erased,
        "erasedAt": doc.erased_at,
    }


def job(doc: Any) -> dict[str, Any]:
    return {
        "id": str(doc.id),
        "kind": doc.kind,
        "status": doc.status,
        "total": doc.total,
        "done": doc.done,
        "errors": list(doc.errors),
        "createdAt": doc.created_at,
        "finishedAt": doc.finished_at,
    }
