"""Validation of how a campaign's codes look: mode, charset, length, pattern and affixes."""

import re

from domain.campaigns.checks import ProblemList, enum_value
from domain.campaigns.errors import CampaignError
from domain.campaigns.inputs import CodeConfigInput
from domain.campaigns.models import DEFAULT_CHARSET, DIGITS, CodeConfig, CodeMode
from domain.code_errors import CodeError

MIN_CODE_LENGTH = 4
# domain.codes refuses longer input at lookup, so no campaign may make longer codes.
MAX_CODE_LENGTH = 64
NUMERIC_LENGTHS = range(12, 17)
MAX_AFFIX = 20
_CODE_TEXT = re.compile(r"^[A-Z0-9\-]*$")
# A pattern is code text plus `#`, the placeholder for a random character.
_PATTERN_TEXT = re.compile(r"^[A-Z0-9\-#]*$")


def _code_text(value: str, field: str, limit: int, problems: ProblemList) -> str:
    text = value.strip().upper()
    if not _CODE_TEXT.match(text) or len(text) > limit:
        problems.add(
            CampaignError.INVALID_AFFIX, f"use at most {limit} letters, digits and dashes", field
        )
    return text


def _pattern_text(value: str, problems: ProblemList) -> str:
    text = value.strip().upper()
    if not _PATTERN_TEXT.match(text) or len(text) > MAX_CODE_LENGTH:
        problems.add(
            CampaignError.INVALID_PATTERN,
            f"use at most {MAX_CODE_LENGTH} letters, digits, dashes and '#'",
            "codes.pattern",
        )
    return text


def validated_code_config(
    *, given: CodeConfigInput | None, current: CodeConfig | None, problems: ProblemList
) -> CodeConfig:
    base = current or CodeConfig()
    if given is None:
        return base
    mode = base.mode
    if given.mode is not None:
        mode = (
            enum_value(
                kind=CodeMode,
                value=given.mode,
                code=CampaignError.INVALID_CODE_MODE,
                field="codes.mode",
                problems=problems,
            )
            or mode
        )
    same_mode = mode == base.mode
    numeric = mode == CodeMode.NUMERIC
    prefix = (
        base.prefix
        if given.prefix is None
        else _code_text(given.prefix, "codes.prefix", MAX_AFFIX, problems)
    )
    suffix = (
        base.suffix
        if given.suffix is None
        else _code_text(given.suffix, "codes.suffix", MAX_AFFIX, problems)
    )
    pattern = base.pattern if same_mode else None
    if given.pattern is not None:
        pattern = _pattern_text(given.pattern, problems) or None
    if given.length is not None:
        length = given.length
    elif same_mode:
        length = base.length
    else:
        length = NUMERIC_LENGTHS.start if numeric else CodeConfig().length
    luhn = (base.luhn if same_mode else False) if given.luhn is None else given.luhn
    if given.charset is not None:
        charset = "".join(dict.fromkeys(given.charset.strip().upper()))
    elif same_mode:
        charset = base.charset
    else:
        charset = DIGITS if numeric else DEFAULT_CHARSET
    if luhn and not numeric:
        problems.add(
            CampaignError.LUHN_NEEDS_NUMERIC, "a Luhn check digit needs NUMERIC codes", "codes.luhn"
        )
    if numeric:
        if set(charset) != set(DIGITS):
            problems.add(
                CodeError.INVALID_CHARSET, "NUMERIC codes use the digits 0-9", "codes.charset"
            )
        charset = DIGITS
        if pattern:
            problems.add(
                CampaignError.INVALID_PATTERN, "NUMERIC codes take no pattern", "codes.pattern"
            )
        if suffix:
            problems.add(
                CampaignError.INVALID_AFFIX, "NUMERIC codes take no suffix", "codes.suffix"
            )
        if not prefix.isdigit() and prefix:
            problems.add(
                CampaignError.INVALID_AFFIX, "a NUMERIC code's prefix is digits", "codes.prefix"
            )
        if length not in NUMERIC_LENGTHS:
            problems.add(
                CampaignError.INVALID_CODE_LENGTH,
                "NUMERIC codes are 12 to 16 digits long, check digit and prefix included",
                "codes.length",
            )
        elif length - len(prefix) - int(luhn) < MIN_CODE_LENGTH:
            problems.add(
                CampaignError.INVALID_CODE_LENGTH,
                f"the prefix leaves fewer than {MIN_CODE_LENGTH} random digits",
                "codes.prefix",
            )
        return CodeConfig(
            mode=mode,
            charset=charset,
            length=length,
            pattern=None,
            prefix=prefix,
            suffix="",
            luhn=luhn,
        )
    if len(charset) < 2 or not (charset.isascii() and charset.isalnum()):
        problems.add(
            CodeError.INVALID_CHARSET,
            "charset needs at least 2 distinct letters or digits",
            "codes.charset",
        )
    if pattern is not None:
        if "#" not in pattern:
            problems.add(
                CampaignError.INVALID_PATTERN,
                "a pattern needs at least one '#' (a random character)",
                "codes.pattern",
            )
        body = len(pattern.replace("-", ""))
    else:
        if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
            problems.add(
                CampaignError.INVALID_CODE_LENGTH,
                f"length must be between {MIN_CODE_LENGTH} and {MAX_CODE_LENGTH}",
                "codes.length",
            )
        body = length
    total = body + len(prefix.replace("-", "")) + len(suffix.replace("-", ""))
    if total > MAX_CODE_LENGTH:
        problems.add(
            CampaignError.INVALID_CODE_LENGTH,
            f"codes would be {total} characters long; at most {MAX_CODE_LENGTH}",
            "codes.pattern" if pattern else "codes.length",
        )
    return CodeConfig(
        mode=mode,
        charset=charset,
        length=length,
        pattern=pattern,
        prefix=prefix,
        suffix=suffix,
        luhn=False,
    )
