"""Code generation: random codes from a campaign's CodeConfig, Luhn check digits, code space."""

import secrets

from domain.campaigns import DEFAULT_CHARSET, DIGITS, NUMERIC_LENGTHS, CodeConfig, CodeMode
from domain.code_errors import CodeError
from domain.errors import DomainError

# A campaign may use at most 1 / SPACE_SHARE of its possible codes, so guessing one stays hard.
SPACE_SHARE = 100


def luhn_check_digit(digits: str) -> str:
    """The digit that makes `digits` + it pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    # Every second digit from the right, starting with the rightmost, is doubled.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(code: str) -> bool:
    return len(code) >= 2 and code.isdigit() and luhn_check_digit(code[:-1]) == code[-1]


def charset_of(config: CodeConfig) -> str:
    """The characters random positions draw from: digits for NUMERIC, else the charset upper-cased.

    Codes are matched ignoring case, so "a" and "A" would be one character, not two.
    """
    if config.mode == CodeMode.NUMERIC:
        return DIGITS
    return "".join(dict.fromkeys(config.charset.upper())) or DEFAULT_CHARSET


def random_positions(config: CodeConfig) -> int:
    """How many characters of a code are random."""
    if config.mode == CodeMode.NUMERIC:
        return config.length - len(config.prefix) - int(config.luhn)
    if config.pattern:
        return config.pattern.count("#")
    return config.length


def code_space(config: CodeConfig) -> int:
    """How many distinct codes the configuration can make."""
    return int(len(charset_of(config)) ** random_positions(config))


def random_text(charset: str, size: int) -> str:
    """`size` characters drawn uniformly from `charset` with the `secrets` generator."""
    base = len(charset)
    # Bytes at or above the largest multiple of `base` are dropped, so no character is favoured.
    limit = 256 - 256 % base
    chars: list[str] = []
    while len(chars) < size:
        wanted = size - len(chars)
        for byte in secrets.token_bytes(wanted + wanted // 4 + 8):
            if byte < limit:
                chars.append(charset[byte % base])
                if len(chars) == size:
                    break
    return "".join(chars)


def _shape(config: CodeConfig, random_part: str) -> str:
    if config.mode == CodeMode.NUMERIC:
        digits = config.prefix + random_part
        return digits + luhn_check_digit(digits) if config.luhn else digits
    if config.pattern:
        pieces = iter(random_part)
        body = "".join(next(pieces) if char == "#" else char for char in config.pattern)
    else:
        body = random_part
    return f"{config.prefix}{body}{config.suffix}"


def new_code(config: CodeConfig) -> str:
    """One code as displayed: prefix, pattern or random characters, suffix (and check digit)."""
    return _shape(config, random_text(charset_of(config), random_positions(config)))


def new_codes(config: CodeConfig, count: int) -> list[str]:
    """`count` codes as displayed, drawn in one go; duplicates among them are possible."""
    width = random_positions(config)
    stream = random_text(charset_of(config), width * count)
    return [_shape(config, stream[i * width : (i + 1) * width]) for i in range(count)]


def _minimum_positions(base: int, needed: int) -> int:
    positions = 1
    while base**positions < needed * SPACE_SHARE:
        positions += 1
    return positions


def check_code_space(config: CodeConfig, existing: int, count: int) -> None:
    """Refuses a generation that would use more than 1% of the possible codes."""
    base = len(charset_of(config))
    if base < 2:
        raise DomainError(
            CodeError.INVALID_CHARSET,
            "charset needs at least 2 distinct letters or digits",
            "charset",
        )
    needed = existing + count
    space = code_space(config)
    if needed * SPACE_SHARE <= space:
        return
    positions = _minimum_positions(base, needed)
    if config.mode == CodeMode.NUMERIC:
        digits = positions + len(config.prefix) + int(config.luhn)
        advice = (
            f"use a length of at least {digits} digits"
            if digits <= NUMERIC_LENGTHS.stop - 1
            else f"they would need {digits} digits, more than {NUMERIC_LENGTHS.stop - 1}: "
            "use a shorter prefix or ALPHANUMERIC codes"
        )
    elif config.pattern:
        advice = f"use a pattern with at least {positions} '#' characters"
    else:
        advice = f"use a length of at least {positions} characters"
    held = f" (with the campaign's {existing:,})" if existing else ""
    raise DomainError(
        CodeError.CODE_SPACE_TOO_SMALL,
        f"{count:,} codes{held} would use more than 1% of the {space:,} possible codes, "
        f"which makes them guessable; {advice}",
        "count",
    )
