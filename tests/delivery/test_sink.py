"""The local sink: real .eml files and JSON line logs, one per project."""

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from delivery.channels import Envelope
from delivery.sink import read_log, write_email, write_push, write_sms

PROJECT = "665f1c2e9b1e8a00000000aa"
UNSUBSCRIBE_URL = "https://engage.example/unsubscribe/abc.def"


def envelope(message_id: str = "665f1c2e9b1e8a0012345678", **changes: str) -> Envelope:
    values: dict[str, Any] = {
        "message_id": message_id,
        "project_id": PROJECT,
        "to": "ada@example.com",
        "subject": "Your coupon",
        "text": "Your code is SPRING-AB12",
        "html": "<p>Your code is <b>SPRING-AB12</b></p>",
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }
    values.update(changes)
    return Envelope(**values)


def test_an_email_becomes_one_eml_file_even_when_written_twice(tmp_path: Path) -> None:
    first = write_email(tmp_path, envelope(), "Shop <shop@shop.example>")
    again = write_email(
        tmp_path, envelope(subject="Your coupon, again"), "Shop <shop@shop.example>"
    )

    assert first == again == "sink:665f1c2e9b1e8a0012345678"
    assert [path.name for path in (tmp_path / PROJECT).iterdir()] == [
        "665f1c2e9b1e8a0012345678.eml"
    ]
    raw = (tmp_path / PROJECT / "665f1c2e9b1e8a0012345678.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "Your coupon, again"
    assert message["From"] == "Shop <shop@shop.example>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["Message-ID"] == "<engage.665f1c2e9b1e8a0012345678@shop.example>"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<b>SPRING-AB12</b>" in html.get_content()


def test_sms_lines_carry_the_message_id_so_a_rewrite_reads_once(tmp_path: Path) -> None:
    sms = envelope(to="+33612345678", text="Code SPRING-AB12", status_callback="https://x/cb")
    assert write_sms(tmp_path, sms, "+15005550006") == "sink:665f1c2e9b1e8a0012345678"
    write_sms(tmp_path, sms, "+15005550006")
    write_sms(tmp_path, envelope("665f1c2e9b1e8a0087654321", to="+33700000000", text="Hi"))

    lines = (tmp_path / PROJECT / "sms.log").read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["message_id"] == "665f1c2e9b1e8a0012345678"
    assert first["to"] == "+33612345678" and first["from"] == "+15005550006"
    assert first["body"] == "Code SPRING-AB12" and first["at"]
    assert [r["message_id"] for r in read_log(tmp_path, PROJECT, "sms.log")] == [
        "665f1c2e9b1e8a0012345678",
        "665f1c2e9b1e8a0087654321",
    ]


def test_pushes_are_logged_per_project(tmp_path: Path) -> None:
    record = {"message_id": "665f1c2e9b1e8a0012345678", "kind": "APPLE_PUSH", "token": "abc"}

    assert write_push(tmp_path, PROJECT, record) == "sink:665f1c2e9b1e8a0012345678"

    [logged] = read_log(tmp_path, PROJECT, "pushes.log")
    assert logged["kind"] == "APPLE_PUSH" and logged["token"] == "abc" and logged["at"]


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden"])
def test_ids_that_would_leave_the_sink_folder_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        write_email(tmp_path / "sink", envelope(message_id=bad))
    with pytest.raises(ValueError):
        write_push(tmp_path / "sink", bad, {"message_id": "x"})
    assert not (tmp_path / "sink").exists()
