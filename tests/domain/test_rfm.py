"""RFM scores by quintiles with ties, the group map, the resumable job and its daily schedule."""

from datetime import UTC, datetime, timedelta

from domain.customers import Customer, OrderMetrics, Rfm
from domain.jobs import Job, JobRunner, JobStatus, run_pending_jobs
from domain.rfm import (
    COMPUTE_RFM,
    GROUPS,
    RfmSchedule,
    group_of,
    measure,
    queue_due_rfm,
    quintile_cuts,
    recompute_rfm,
    score,
)
from tests.factories import Tenant

AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

# name: (days since the last order, orders, total spent)
BUYERS = {
    "A": (1, 10, 50_000),
    "B": (1, 8, 30_000),
    "C": (5, 8, 30_000),
    "D": (10, 5, 20_000),
    "E": (20, 3, 12_000),
    "F": (30, 3, 9_000),
    "G": (60, 2, 5_000),
    "H": (90, 1, 3_000),
    "I": (200, 1, 3_000),
    "J": (400, 1, 1_000),
}
# Worked by hand: n = 10 buyers, score = ceil(5 * c / 10) = 1 + floor(a / 2), where c = a + 1
# counts the values at or below it and a is its 0-based rank in ascending order; a tied run takes
# its highest rank (the best score of the tie), so the top of each measure always scores 5.
# Recency ranks minus the days: J 0, I 1, H 2, G 3, F 4, E 5, D 6, C 7, A and B tie on 8 and 9
#   (a = 9): J 1, I 1, H 2, G 2, F 3, E 3, D 4, C 4, A 5, B 5.
# Frequency: 1 x3 (H I J on 0-2, a = 2) -> 2; 2 (G, 3) -> 2; 3 x2 (E F on 4-5, a = 5) -> 3;
#   5 (D, 6) -> 4; 8 x2 (B C on 7-8, a = 8) -> 5 (the mean rank 7.5 would have given 4); 10 (A, 9)
#   -> 5. Nobody scores F1: the lowest tie covers more than a fifth.
# Monetary: 1000 (J, 0) -> 1; 3000 x2 (H I on 1-2, a = 2) -> 2; 5000 (G, 3) -> 2; 9000 (F, 4) -> 3;
#   12000 (E, 5) -> 3; 20000 (D, 6) -> 4; 30000 x2 (B C on 7-8, a = 8) -> 5; 50000 (A, 9) -> 5.
# Groups from (R, F): A and B (5,5) champions, C (4,5) and D (4,4) loyal, E and F (3,3)
#   needs_attention, G and H (2,2) hibernating, I and J (1,2) hibernating.
EXPECTED = {
    "A": (5, 5, 5, "champions"),
    "B": (5, 5, 5, "champions"),
    "C": (4, 5, 5, "loyal"),
    "D": (4, 4, 4, "loyal"),
    "E": (3, 3, 3, "needs_attention"),
    "F": (3, 3, 3, "needs_attention"),
    "G": (2, 2, 2, "hibernating"),
    "H": (2, 2, 2, "hibernating"),
    "I": (1, 2, 2, "hibernating"),
    "J": (1, 2, 1, "hibernating"),
    "K": (0, 0, 0, "prospect"),
    "L": (0, 0, 0, "prospect"),
}


def buyer_metrics(days: int, orders: int, spent: int) -> OrderMetrics:
    # Three hours past the whole days: the days since the last order are counted whole.
    last = AS_OF - timedelta(days=days, hours=3)
    return OrderMetrics(
        orders_count=orders, total_spent=spent, first_order_at=last, last_order_at=last
    )


async def crafted(project_id: str, other_project_id: str) -> dict[str, Customer]:
    made: dict[str, Customer] = {}
    for name, (days, orders, spent) in BUYERS.items():
        made[name] = Customer(
            project_id=project_id, name=name, metrics=buyer_metrics(days, orders, spent)
        )
    made["K"] = Customer(project_id=project_id, name="K")
    made["L"] = Customer(project_id=project_id, name="L")
    # Neither counts in the ranking: an erased buyer and another project's buyer.
    made["erased"] = Customer(
        project_id=project_id, name="", erased=True, metrics=buyer_metrics(0, 99, 999_999)
    )
    made["other"] = Customer(
        project_id=other_project_id, name="O", metrics=buyer_metrics(0, 99, 999_999)
    )
    for customer in made.values():
        await customer.insert()
    return made


async def scores(customers: dict[str, Customer]) -> dict[str, tuple[int, int, int, str]]:
    found: dict[str, tuple[int, int, int, str]] = {}
    for name, customer in customers.items():
        fresh = await Customer.get(customer.id)
        assert fresh is not None
        found[name] = (fresh.rfm.recency, fresh.rfm.frequency, fresh.rfm.monetary, fresh.rfm.group)
    return found


def test_quintile_cuts_give_ties_one_score() -> None:
    values = [1, 1, 1, 2, 3, 3, 5, 8, 8, 10]
    cuts = quintile_cuts(values)
    # Ties take the best rank they cover: 1 x3 -> rank 2, 3 x2 -> 5, 8 x2 -> 8.
    assert cuts == [1, 3, 5, 8]
    assert [score(v, cuts) for v in values] == [2, 2, 2, 2, 3, 3, 4, 5, 5, 5]
    # All equal: every value shares the best rank, so all score 5.
    assert [score(7, quintile_cuts([7] * 10))] == [5]
    assert quintile_cuts([]) == [float("inf")] * 4


def test_the_best_tie_scores_five_and_the_others_by_their_best_rank() -> None:
    # n = 5: one rank per quintile. Ties at the top and at the bottom.
    values = [4, 4, 6, 9, 9]
    cuts = quintile_cuts(values)
    assert [score(v, cuts) for v in values] == [2, 2, 3, 5, 5]


def test_group_map_covers_every_r_and_f() -> None:
    # Rows R = 5..1, columns F = 1..5: the map documented in the README.
    table = {
        5: ["new", "potential_loyalists", "potential_loyalists", "champions", "champions"],
        4: ["promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"],
        3: ["about_to_sleep", "about_to_sleep", "needs_attention", "loyal", "loyal"],
        2: ["hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose_them"],
        1: ["lost", "hibernating", "at_risk", "at_risk", "cannot_lose_them"],
    }
    for recency, row in table.items():
        assert [group_of(recency, frequency) for frequency in range(1, 6)] == row
    assert group_of(0, 0) == "prospect"
    assert set(GROUPS) == {name for row in table.values() for name in row} | {"prospect"}


async def test_the_job_scores_every_customer_as_computed_by_hand(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    customers = await crafted(tenant.project_id, other_tenant.project_id)

    job = await recompute_rfm(tenant.project_id, AS_OF)
    assert await run_pending_jobs() == 1

    finished = await Job.get(job.id)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED
    assert (finished.total, finished.done) == (12, 12)
    found = await scores(customers)
    assert {name: found[name] for name in EXPECTED} == EXPECTED
    assert found["erased"] == (0, 0, 0, "") and found["other"] == (0, 0, 0, "")
    champion = await Customer.get(customers["A"].id)
    assert champion is not None and champion.rfm.computed_at == AS_OF


async def test_when_everyone_ordered_today_the_best_customer_is_a_champion(
    tenant: Tenant,
) -> None:
    # Everyone's last order is today: a one-way tie on recency, which the mean rank scored R3.
    today = {"best": (40, 90_000), "mid": (6, 20_000), "low": (2, 4_000), "one": (1, 1_000)}
    made: dict[str, Customer] = {}
    for index, (name, (orders, spent)) in enumerate(today.items()):
        last = AS_OF - timedelta(minutes=5 + 60 * index)
        made[name] = Customer(
            project_id=tenant.project_id,
            name=name,
            metrics=OrderMetrics(
                orders_count=orders, total_spent=spent, first_order_at=last, last_order_at=last
            ),
        )
        await made[name].insert()

    await recompute_rfm(tenant.project_id, AS_OF)
    assert await run_pending_jobs() == 1

    found = await scores(made)
    assert {name: found[name][0] for name in today} == dict.fromkeys(today, 5)
    # n = 4, score = ceil(5 * c / 4), c counting the values at or below: F and M alike,
    # best c = 4 -> 5, mid c = 3 -> ceil(3.75) = 4, low c = 2 -> ceil(2.5) = 3, one c = 1 -> 2.
    assert found["best"] == (5, 5, 5, "champions")
    assert found["mid"] == (5, 4, 4, "champions")
    assert found["low"] == (5, 3, 3, "potential_loyalists")
    assert found["one"] == (5, 2, 2, "potential_loyalists")


async def test_a_resumed_job_keeps_its_cuts_and_skips_what_is_done(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    customers = await crafted(tenant.project_id, other_tenant.project_id)
    cuts, total = await measure(tenant.project_id, AS_OF)
    ordered = sorted(customers.values(), key=lambda customer: str(customer.id))
    mine = [c for c in ordered if c.project_id == tenant.project_id and not c.erased]
    # An earlier attempt measured, scored the first four customers and died.
    marker = Rfm(recency=9, frequency=9, monetary=9, group="earlier", computed_at=AS_OF)
    for customer in mine[:4]:
        await Customer.get_pymongo_collection().update_one(
            {"_id": customer.id}, {"$set": {"rfm": marker.model_dump()}}
        )
    job = Job(
        project_id=tenant.project_id,
        kind=COMPUTE_RFM,
        params={"as_of": AS_OF.isoformat(), "cuts": cuts.as_params(), "after": mine[3].key},
        total=total,
        done=4,
        batch_size=3,
    )
    await job.insert()

    await JobRunner().run_pending()

    finished = await Job.get(job.id)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED
    assert finished.done == 12
    found = await scores(customers)
    by_id = {customer.id: name for name, customer in customers.items()}
    for customer in mine[:4]:
        assert found[by_id[customer.id]] == (9, 9, 9, "earlier")
    for customer in mine[4:]:
        assert found[by_id[customer.id]] == EXPECTED[by_id[customer.id]]


async def test_recompute_returns_the_job_already_waiting(tenant: Tenant) -> None:
    first = await recompute_rfm(tenant.project_id)
    again = await recompute_rfm(tenant.project_id)
    assert again.id == first.id
    await run_pending_jobs()
    assert (await recompute_rfm(tenant.project_id)).id != first.id


async def test_each_project_is_queued_once_a_day(tenant: Tenant, other_tenant: Tenant) -> None:
    day_one = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)

    assert await queue_due_rfm(day_one) == 2
    await run_pending_jobs()
    assert await queue_due_rfm(day_one + timedelta(hours=23)) == 0
    assert await queue_due_rfm(day_one + timedelta(days=1)) == 2

    jobs = await Job.find({"kind": COMPUTE_RFM}).to_list()
    assert sorted(job.project_id for job in jobs) == sorted(
        [tenant.project_id] * 2 + [other_tenant.project_id] * 2
    )
    schedule = await RfmSchedule.find_one({"project_id": tenant.project_id})
    assert schedule is not None and schedule.next_run_at == day_one + timedelta(days=2)
