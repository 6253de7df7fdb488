"""Every app's copies in this process (domain/snapshots.py), so that a change made here, through
whatever code path, forgets them at once. Other processes notice at the write that matters."""

import weakref
from typing import Protocol


class Copies(Protocol):
    def forget_key(self, key_id: str) -> None: ...
    def forget_project(self, project_id: str) -> None: ...
    def forget_campaign(self, project_id: str, campaign_id: str) -> None: ...


_live: "weakref.WeakSet[Copies]" = weakref.WeakSet()


def register(copies: Copies) -> None:
    _live.add(copies)


def key_revoked(*, project_id: str, key_id: str) -> None:
    for copies in list(_live):
        copies.forget_key(key_id)
        copies.forget_project(project_id)


def campaign_changed(*, project_id: str, campaign_id: str) -> None:
    for copies in list(_live):
        copies.forget_campaign(project_id, campaign_id)
