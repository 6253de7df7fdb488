"""SMS encoding and segment counting: known boundaries and properties over any text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivery.sms_text import (
    GSM_BASIC,
    GSM_EXTENSION,
    check_sms_length,
    is_gsm7,
    sms_info,
)
from domain.errors import DomainError

gsm_text = st.text(alphabet=sorted(GSM_BASIC | GSM_EXTENSION), max_size=600)
any_text = st.text(max_size=400)


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€", "GSM-7", 2, 1),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        # An escape pair is not split: 152 plain septets then a euro sign fill the first part.
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),
        ("é" * 160, "GSM-7", 160, 1),
        ("ж" * 70, "UCS-2", 70, 1),
        ("ж" * 71, "UCS-2", 71, 2),
        ("ж" * 134, "UCS-2", 134, 2),
        ("ж" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),
        ("a" * 159 + "ç", "UCS-2", 160, 3),
        ("", "GSM-7", 0, 1),
    ],
)
def test_known_lengths(text: str, encoding: str, characters: int, segments: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.characters, info.segments) == (encoding, characters, segments)


@given(gsm_text)
def test_gsm_text_counts_septets(text: str) -> None:
    info = sms_info(text)
    assert info.encoding == "GSM-7"
    assert info.characters == len(text) + sum(char in GSM_EXTENSION for char in text)
    if info.characters <= 160:
        assert info.segments == 1
    else:
        # Parts of 153 septets, one septet lost at most per part to an unsplit escape pair.
        assert -(-info.characters // 153) <= info.segments <= -(-info.characters // 152)


@given(any_text)
def test_other_text_counts_utf16_units(text: str) -> None:
    info = sms_info(text)
    assert info.encoding == ("GSM-7" if is_gsm7(text) else "UCS-2")
    if info.encoding == "UCS-2":
        assert info.characters == len(text.encode("utf-16-le")) // 2
        if info.characters <= 70:
            assert info.segments == 1
        else:
            assert -(-info.characters // 67) <= info.segments <= -(-info.characters // 66)


@given(any_text, any_text)
def test_more_text_never_takes_fewer_segments(text: str, more: str) -> None:
    longer = sms_info(text + more)
    shorter = sms_info(text)
    if longer.encoding == shorter.encoding:
        assert longer.segments >= shorter.segments


def test_too_many_segments_is_refused() -> None:
    assert check_sms_length("a" * 459, 3).segments == 3
    with pytest.raises(DomainError) as refused:
        check_sms_length("a" * 460, 3)
    assert (refused.value.code, refused.value.problems[0].field) == ("SMS_TOO_LONG", "text")
