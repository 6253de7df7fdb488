"""SMS length as networks count it: GSM-7 septets or UCS-2 code units, and the segments sent."""

from dataclasses import dataclass
from typing import Literal

from delivery.errors import DeliveryError
from domain.errors import DomainError

# GSM 03.38 basic character set (the escape character itself left out: it cannot be typed).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as an escape plus a character, two septets.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_ALL = GSM_BASIC | GSM_EXTENSION

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SmsInfo:
    encoding: Encoding
    # Length as the network counts it: septets for GSM-7, UTF-16 code units for UCS-2.
    characters: int
    segments: int


def is_gsm7(text: str) -> bool:
    return GSM_ALL.issuperset(text)


def _parts(units: list[int], single: int, part: int) -> int:
    """Segments for characters of the given widths; a character is never split between parts."""
    total = sum(units)
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in units:
        if used + width > part:
            segments += 1
            used = 0
        used += width
    return segments


def sms_info(text: str) -> SmsInfo:
    # A text that fits in one segment is counted without listing each character's width.
    if is_gsm7(text):
        characters = len(text) + sum(text.count(char) for char in GSM_EXTENSION)
        if characters <= GSM_SINGLE:
            return SmsInfo("GSM-7", characters, 1)
        if characters == len(text):
            # One septet each: no character can straddle two parts.
            return SmsInfo("GSM-7", characters, -(-characters // GSM_PART))
        widths = [2 if char in GSM_EXTENSION else 1 for char in text]
        return SmsInfo("GSM-7", characters, _parts(widths, GSM_SINGLE, GSM_PART))
    # Characters outside the Basic Multilingual Plane (most emoji) take a surrogate pair.
    characters = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if characters <= UCS2_SINGLE:
        return SmsInfo("UCS-2", characters, 1)
    if characters == len(text):
        return SmsInfo("UCS-2", characters, -(-characters // UCS2_PART))
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SmsInfo("UCS-2", characters, _parts(widths, UCS2_SINGLE, UCS2_PART))


def check_sms_length(text: str, max_segments: int, field: str = "text") -> SmsInfo:
    """The text's SmsInfo, or SMS_TOO_LONG when it needs more than `max_segments` segments."""
    info = sms_info(text)
    if info.segments > max_segments:
        raise DomainError(
            DeliveryError.SMS_TOO_LONG,
            f"the message needs {info.segments} {info.encoding} segments "
            f"({info.characters} characters); at most {max_segments} are allowed",
            field,
        )
    return info
