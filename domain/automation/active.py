"""The active automations: a per-process cache per project, and the sweeps' queries."""

import time

from domain.automation.models import Automation, AutomationStatus
from domain.event_models import (
    CUSTOMER_DORMANT,
)

# Each process re-reads a project's active automations at most this often; its own changes
# are seen at once.
CACHE_SECONDS = 5.0


# The per-process cache of active automations: project id -> (read at, automations).
_active: dict[str, tuple[float, list[Automation]]] = {}


def forget(*, project_id: str) -> None:
    _active.pop(project_id, None)


async def active_automations(*, project_id: str, fresh: bool = False) -> list[Automation]:
    cached = _active.get(project_id)
    if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = await Automation.find(
        {"project_id": project_id, "status": AutomationStatus.ACTIVE.value}
    ).to_list()
    _active[project_id] = (time.monotonic(), found)
    return found


async def dormancy_lengths() -> list[tuple[str, int]]:
    """(project, days) for every active customer.dormant automation, without repeats."""
    found = await Automation.find(
        {"status": AutomationStatus.ACTIVE.value, "trigger": CUSTOMER_DORMANT}
    ).to_list()
    return sorted({(a.project_id, int(a.conditions["days"])) for a in found})


async def projects_listening_to(*, trigger: str) -> list[str]:
    found = await Automation.find(
        {"status": AutomationStatus.ACTIVE.value, "trigger": trigger}
    ).to_list()
    return sorted({a.project_id for a in found})
