"""The two-proportion z-test and its interval against worked examples computed by hand."""

import math

import pytest

from domain.stats_tests import (
    normal_cdf,
    normal_quantile,
    two_proportion_z_test,
    two_sided_p_value,
)


def test_worked_example_200_of_1000_against_250_of_1000() -> None:
    # By hand: pA = 0.20, pB = 0.25, pooled p = 450/2000 = 0.225,
    # pooled SE = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = sqrt(0.00034875) = 0.0186748,
    # z = -0.05 / 0.0186748 = -2.6774, two-sided p = erfc(2.6774 / sqrt 2) = 0.00742.
    # Unpooled SE = sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000) = sqrt(0.0003475) = 0.0186413,
    # 95% CI = -0.05 +/- 1.959964 * 0.0186413 = (-0.08654, -0.01346).
    test = two_proportion_z_test(200, 1000, 250, 1000)
    assert test is not None
    assert test.rate_a == pytest.approx(0.20)
    assert test.rate_b == pytest.approx(0.25)
    assert test.difference == pytest.approx(-0.05)
    assert test.relative_difference == pytest.approx(-0.2)
    assert test.z == pytest.approx(-2.6774, abs=1e-4)
    assert test.p_value == pytest.approx(0.00742, abs=1e-5)
    assert test.ci_low == pytest.approx(-0.08654, abs=1e-5)
    assert test.ci_high == pytest.approx(-0.01346, abs=1e-5)
    assert test.confidence_level == pytest.approx(0.95)
    assert test.significant


def test_swapping_the_groups_flips_the_sign_only() -> None:
    forward = two_proportion_z_test(200, 1000, 250, 1000)
    backward = two_proportion_z_test(250, 1000, 200, 1000)
    assert forward is not None and backward is not None and forward.z is not None
    assert backward.z == pytest.approx(-forward.z)
    assert backward.p_value == pytest.approx(forward.p_value)
    assert (backward.ci_low, backward.ci_high) == pytest.approx((-forward.ci_high, -forward.ci_low))


def test_a_small_difference_is_not_significant_and_alpha_sets_the_bar() -> None:
    # 52/500 vs 50/500: z = 0.004 / sqrt(0.102 * 0.898 * 0.004) = 0.004 / 0.019141 = 0.2090,
    # p = 2 * (1 - Phi(0.2090)) = 0.8345.
    test = two_proportion_z_test(52, 500, 50, 500)
    assert test is not None
    assert test.z == pytest.approx(0.2090, abs=1e-4)
    assert test.p_value == pytest.approx(0.8345, abs=1e-4)
    assert not test.significant
    # 200/1000 vs 250/1000 has p = 0.0074: significant at 0.01, not at 0.005.
    strict = two_proportion_z_test(200, 1000, 250, 1000, alpha=0.005)
    loose = two_proportion_z_test(200, 1000, 250, 1000, alpha=0.01)
    assert strict is not None and loose is not None
    assert loose.significant and not strict.significant
    # A 99.5% interval is wider than the 95% one.
    assert strict.ci_high - strict.ci_low > 0.0731 * 1.4


def test_degenerate_groups() -> None:
    assert two_proportion_z_test(0, 0, 5, 10) is None
    assert two_proportion_z_test(3, 10, 0, 0) is None
    # Nobody converted anywhere: no test can be made, nothing is significant.
    none = two_proportion_z_test(0, 50, 0, 50)
    assert none is not None
    assert none.z is None and none.p_value is None and not none.significant
    assert none.relative_difference is None
    assert (none.ci_low, none.ci_high) == (0.0, 0.0)
    with pytest.raises(ValueError):
        two_proportion_z_test(11, 10, 0, 10)


def test_normal_distribution_helpers() -> None:
    assert normal_cdf(0) == pytest.approx(0.5)
    assert normal_cdf(1.959964) == pytest.approx(0.975, abs=1e-7)
    assert normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.995) == pytest.approx(2.575829, abs=1e-6)
    assert two_sided_p_value(1.959964) == pytest.approx(0.05, abs=1e-7)
    # Far in the tail erfc keeps a p-value that 1 - cdf would round to zero.
    assert 0 < two_sided_p_value(10) < 1e-20
    assert two_sided_p_value(-3) == pytest.approx(math.erfc(3 / math.sqrt(2)))
