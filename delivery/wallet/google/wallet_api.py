"""Calls to the Google Wallet API: inserting classes and patching objects."""

from typing import Any

import httplib2
from google.auth import exceptions as google_auth_errors
from google.oauth2 import service_account as google_service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import Resource, build_from_document
from googleapiclient.errors import HttpError

from delivery.channels import (
    PermanentSendError,
    TransientSendError,
)
from delivery.config import DeliverySettings
from delivery.wallet.google.accounts import service_account
from delivery.wallet.google.objects import LOYALTY_OBJECT, OFFER_OBJECT
from delivery.wallet.walletobjects_schema import discovery_document

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"


def wallet_service(*, settings: DeliverySettings, http: httplib2.Http | None = None) -> Resource:
    """The walletobjects client, built from the shipped discovery document (no fetch)."""
    if http is None:
        credentials = google_service_account.Credentials.from_service_account_info(
            service_account(settings=settings).info, scopes=[SCOPE]
        )
        http = AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=settings.google_timeout_seconds)
        )
    options = {"api_endpoint": settings.google_api_url} if settings.google_api_url else None
    return build_from_document(discovery_document(), http=http, client_options=options)


def _classify(error: Exception, what: str) -> Exception:
    """Which outbox error a failed call is: retried later, or given up."""
    if isinstance(error, HttpError):
        status = error.resp.status
        detail = f"Google Wallet answered {status} to {what}: {error.reason or ''}".strip()
        if status == 429 or status >= 500:
            return TransientSendError(detail)
        return PermanentSendError(detail)
    if isinstance(error, google_auth_errors.RefreshError):
        retryable = bool(getattr(error, "retryable", False))
        kind = TransientSendError if retryable else PermanentSendError
        return kind(f"Google refused the service account's token: {error}")
    return TransientSendError(
        f"Google Wallet unreachable ({what}): {type(error).__name__}: {error}"
    )


_CALL_ERRORS = (
    HttpError,
    google_auth_errors.RefreshError,
    google_auth_errors.TransportError,
    httplib2.HttpLib2Error,
    OSError,
    TimeoutError,
)


def _collection(service: Resource, resource: str) -> Any:
    if resource == OFFER_OBJECT:
        return service.offerobject()
    if resource == LOYALTY_OBJECT:
        return service.loyaltyobject()
    if resource == "offerClass":
        return service.offerclass()
    if resource == "loyaltyClass":
        return service.loyaltyclass()
    raise ValueError(f"unknown walletobjects resource {resource!r}")


def insert_class(
    *, settings: DeliverySettings, klass: dict[str, Any], http: httplib2.Http | None = None
) -> bool:
    """Inserts a class a save link refers to without carrying it; True if it is new. Blocking."""
    resource = "offerClass" if ".offer-" in klass["id"] else "loyaltyClass"
    try:
        _collection(wallet_service(settings=settings, http=http), resource).insert(
            body=klass
        ).execute()
    except HttpError as error:
        if error.resp.status == 409:
            return False
        raise _classify(error, f"inserting {klass['id']}") from error
    except _CALL_ERRORS as error:
        raise _classify(error, f"inserting {klass['id']}") from error
    return True


def patch_object(
    *,
    settings: DeliverySettings,
    resource: str,
    wallet_object_id: str,
    body: dict[str, Any],
    http: httplib2.Http | None = None,
) -> str:
    """PATCHes one object; returns a provider id for the outbox. Blocking: run it in a thread."""
    what = f"PATCH {resource}/{wallet_object_id}"
    try:
        _collection(wallet_service(settings=settings, http=http), resource).patch(
            resourceId=wallet_object_id, body=body
        ).execute()
    except HttpError as error:
        if error.resp.status == 404:
            # Nobody saved the pass yet: there is nothing to update, and the save link builds
            # the object from the current state when someone does.
            return f"google:not-saved:{wallet_object_id}"
        raise _classify(error, what) from error
    except _CALL_ERRORS as error:
        raise _classify(error, what) from error
    return f"google:{wallet_object_id}"
