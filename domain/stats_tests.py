"""Two-proportion z-test and confidence interval, on the normal distribution built from math.erf."""

import math
from dataclasses import dataclass

DEFAULT_ALPHA = 0.05


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def two_sided_p_value(z: float) -> float:
    """P(|Z| >= |z|); erfc keeps precision far in the tails, where 1 - cdf would round to 0."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(probability: float) -> float:
    """The x with normal_cdf(x) == probability, by bisection (monotone, exact to ~1e-12)."""
    if not 0.0 < probability < 1.0:
        raise ValueError("probability must be strictly between 0 and 1")
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        if normal_cdf(middle) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-13:
            break
    return (low + high) / 2


@dataclass(frozen=True)
class ProportionTest:
    """Group A against group B: rates, their difference, the test and its interval."""

    successes_a: int
    total_a: int
    successes_b: int
    total_b: int
    rate_a: float
    rate_b: float
    # rate_a - rate_b: the absolute lift of A over B.
    difference: float
    # difference / rate_b; None when B never succeeded.
    relative_difference: float | None
    # None when the pooled standard error is 0 (both groups all-or-nothing alike): no test.
    z: float | None
    p_value: float | None
    # Confidence interval of the difference at level 1 - alpha, with the unpooled standard error.
    ci_low: float
    ci_high: float
    confidence_level: float
    alpha: float
    significant: bool


def two_proportion_z_test(
    successes_a: int, total_a: int, successes_b: int, total_b: int, alpha: float = DEFAULT_ALPHA
) -> ProportionTest | None:
    """z = (pA - pB) / sqrt(p(1-p)(1/nA + 1/nB)) with p pooled; two-sided p-value; the interval
    (pA - pB) +/- z_(1-alpha/2) * sqrt(pA(1-pA)/nA + pB(1-pB)/nB). None when a group is empty."""
    if total_a <= 0 or total_b <= 0:
        return None
    if not 0 <= successes_a <= total_a or not 0 <= successes_b <= total_b:
        raise ValueError("successes must be between 0 and the group's total")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be strictly between 0 and 1")
    rate_a, rate_b = successes_a / total_a, successes_b / total_b
    difference = rate_a - rate_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    z = difference / pooled_se if pooled_se > 0 else None
    p_value = two_sided_p_value(z) if z is not None else None
    unpooled_se = math.sqrt(rate_a * (1 - rate_a) / total_a + rate_b * (1 - rate_b) / total_b)
    margin = normal_quantile(1 - alpha / 2) * unpooled_se
    return ProportionTest(
        successes_a=successes_a,
        total_a=total_a,
        successes_b=successes_b,
        total_b=total_b,
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        relative_difference=difference / rate_b if rate_b > 0 else None,
        z=z,
        p_value=p_value,
        ci_low=difference - margin,
        ci_high=difference + margin,
        confidence_level=1 - alpha,
        alpha=alpha,
        significant=p_value is not None and p_value < alpha,
    )
