"""Code generation: Luhn check digits, shapes and charsets, the 1% code-space rule."""

import random
from collections import Counter

import pytest

from domain.campaigns import DEFAULT_CHARSET, CodeConfig, CodeMode
from domain.codegen import (
    check_code_space,
    code_space,
    luhn_check_digit,
    luhn_valid,
    new_code,
    new_codes,
)
from domain.codes import normalize_code
from domain.errors import DomainError

LOOK_ALIKES = set("0O1IL")


def luhn_configs() -> list[CodeConfig]:
    return [
        CodeConfig(mode=CodeMode.NUMERIC, length=length, luhn=True, prefix=prefix)
        for length in range(12, 17)
        for prefix in ("", "4711")
    ]


def test_luhn_check_digit_matches_the_published_example() -> None:
    # The example of ISO/IEC 7812 and countless textbooks: 7992739871 -> 3.
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert not luhn_valid("7")
    assert not luhn_valid("7992739871A")


def test_luhn_rejects_every_single_digit_typo() -> None:
    codes = [code for config in luhn_configs() for code in new_codes(config, 30)]
    assert len(codes) == 300
    for code in codes:
        assert luhn_valid(code), code
        for position, typed in enumerate(code):
            for digit in "0123456789":
                if digit != typed:
                    mistyped = code[:position] + digit + code[position + 1 :]
                    assert not luhn_valid(mistyped), (code, mistyped)


def test_luhn_rejects_adjacent_transpositions_except_09() -> None:
    """Luhn cannot see 09 <-> 90 (both weigh 9); every other swap of two digits is caught."""
    codes = [code for config in luhn_configs() for code in new_codes(config, 30)]
    blind_spots = caught = 0
    for code in codes:
        for position in range(len(code) - 1):
            first, second = code[position], code[position + 1]
            if first == second:
                continue
            swapped = code[:position] + second + first + code[position + 2 :]
            if {first, second} == {"0", "9"}:
                assert luhn_valid(swapped), (code, swapped)
                blind_spots += 1
            else:
                assert not luhn_valid(swapped), (code, swapped)
                caught += 1
    # Both branches really ran: about 2% of random neighbour pairs are 0 and 9.
    assert blind_spots > 0
    assert caught > 1000


def test_numeric_codes_have_the_configured_length_prefix_and_digits_only() -> None:
    for config in luhn_configs():
        for code in new_codes(config, 50):
            assert len(code) == config.length
            assert code.isdigit() and code.startswith(config.prefix)
    plain = CodeConfig(mode=CodeMode.NUMERIC, length=14, prefix="99")
    codes = new_codes(plain, 400)
    assert all(len(c) == 14 and c.isdigit() and c.startswith("99") for c in codes)
    # Without a check digit the last digit is random: some of them fail the check.
    assert not all(luhn_valid(c) for c in codes)
    # A NUMERIC config left with the default letters still makes digits.
    assert new_code(CodeConfig(mode=CodeMode.NUMERIC, length=12)).isdigit()


def test_default_charset_has_no_look_alikes_and_uses_every_other_character() -> None:
    assert not LOOK_ALIKES & set(DEFAULT_CHARSET)
    codes = new_codes(CodeConfig(), 2_000)
    assert all(len(code) == 8 for code in codes)
    seen = Counter("".join(codes))
    assert set(seen) == set(DEFAULT_CHARSET)
    # 16,000 draws over 31 characters: each near 516; a skewed draw would be far off.
    assert min(seen.values()) > 350 and max(seen.values()) < 700


def test_pattern_prefix_suffix_and_charset_are_respected() -> None:
    config = CodeConfig(pattern="SUM-####-##", prefix="X", suffix="-Z9", charset="ab2")
    for code in new_codes(config, 500):
        assert code.startswith("XSUM-") and code.endswith("-Z9")
        assert code[9] == "-"
        random_part = code[5:9] + code[10:12]
        assert len(code) == len("XSUM-####-##-Z9")
        # Codes match ignoring case: a lower-case charset is drawn upper-case.
        assert set(random_part) <= {"A", "B", "2"}
    long_one = new_code(CodeConfig(length=20, charset="QWERTY"))
    assert len(long_one) == 20 and set(long_one) <= set("QWERTY")


def test_codes_are_distinct_in_practice() -> None:
    codes = new_codes(CodeConfig(), 20_000)
    assert len({normalize_code(c) for c in codes}) == 20_000


def test_code_space_counts_random_positions_only() -> None:
    assert code_space(CodeConfig(length=4, charset="0123456789")) == 10**4
    assert code_space(CodeConfig(pattern="AB-###", prefix="P", charset="ABC")) == 3**3
    # Prefix and check digit are fixed: 12 - 4 - 1 random digits.
    assert code_space(CodeConfig(mode=CodeMode.NUMERIC, length=12, prefix="4711", luhn=True)) == (
        10**7
    )


def refusal(config: CodeConfig, existing: int, count: int) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_code_space(config, existing, count)
    assert caught.value.code == "CODE_SPACE_TOO_SMALL"
    assert caught.value.problems[0].field == "count"
    return caught.value


def test_one_percent_rule_for_alphanumeric_codes_names_the_length_needed() -> None:
    config = CodeConfig(length=4, charset="ABCDEFGHJK")
    check_code_space(config, 0, 100)  # exactly 1% of 10,000
    error = refusal(config, 0, 101)
    assert "use a length of at least 5 characters" in str(error)
    assert "10,000 possible codes" in str(error)
    # 500,000 codes need 50,000,000 possibilities: 10^8.
    assert "at least 8 characters" in str(refusal(config, 0, 500_000))


def test_one_percent_rule_counts_the_codes_the_campaign_holds() -> None:
    config = CodeConfig(length=4, charset="ABCDEFGHJK")
    check_code_space(config, 95, 5)
    error = refusal(config, 95, 6)
    assert "with the campaign's 95" in str(error)
    assert "at least 5 characters" in str(error)


def test_one_percent_rule_for_patterns_names_the_placeholders_needed() -> None:
    config = CodeConfig(pattern="AB-###", charset="ABCDEFGHJK")
    check_code_space(config, 0, 10)
    assert "at least 4 '#' characters" in str(refusal(config, 0, 11))


def test_one_percent_rule_for_numeric_codes_names_the_digits_needed() -> None:
    config = CodeConfig(mode=CodeMode.NUMERIC, length=12, prefix="12345678", luhn=True)
    check_code_space(config, 0, 10)  # 3 random digits: 1,000 codes
    assert "use a length of at least 13 digits" in str(refusal(config, 0, 11))
    # 16 digits with this prefix leave 7 random ones: 100,000 codes at most.
    assert "use a length of at least 16 digits" in str(refusal(config, 0, 100_000))
    beyond = refusal(config.model_copy(update={"length": 16}), 0, 1_000_000)
    assert "17 digits, more than 16" in str(beyond)
    assert "shorter prefix or ALPHANUMERIC" in str(beyond)


@pytest.mark.parametrize("seed", range(3))
def test_space_rule_and_advice_agree(seed: int) -> None:
    """Whatever the request, following the advice makes the request pass."""
    rng = random.Random(seed)
    for _ in range(50):
        config = CodeConfig(length=rng.randint(4, 7), charset="ABCDEFGHJK"[: rng.randint(2, 10)])
        count = rng.randint(1, 200_000)
        try:
            check_code_space(config, 0, count)
        except DomainError as error:
            needed = int(str(error).split("at least ")[1].split(" ")[0])
            assert needed > config.length
            check_code_space(config.model_copy(update={"length": needed}), 0, count)
            with pytest.raises(DomainError):
                check_code_space(config.model_copy(update={"length": needed - 1}), 0, count)
