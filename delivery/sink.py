"""The local sink: sandbox projects and channels without a provider deliver to files."""

import json
import os
import re
from pathlib import Path
from typing import Any

from delivery.channels import Envelope
from delivery.email import build_email
from domain.common import utc_now

# The From of sink emails when neither the envelope nor the caller names one.
DEFAULT_SENDER = "Engage <no-reply@localhost>"
# Ids become file and folder names: nothing that could leave the sink folder.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")


def _name(value: str, what: str) -> str:
    if not _SAFE_NAME.match(value) or ".." in value:
        raise ValueError(f"{what} cannot be used as a file name: {value!r}")
    return value


def _project_dir(sink_dir: Path, project_id: str) -> Path:
    folder = Path(sink_dir) / _name(project_id, "project id")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _append_line(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
    # One write with O_APPEND: lines from several worker processes do not interleave.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def sink_id(message_id: str) -> str:
    """The provider-like id of a message delivered to the sink."""
    return f"sink:{message_id}"


def write_email(sink_dir: Path, envelope: Envelope, default_sender: str = DEFAULT_SENDER) -> str:
    """Writes `<sink_dir>/<project_id>/<message_id>.eml`; writing it again replaces it."""
    name = _name(envelope.message_id, "message id")
    folder = _project_dir(sink_dir, envelope.project_id)
    message = build_email(envelope, default_sender)
    temporary = folder / f".{name}.eml.{os.getpid()}.tmp"
    temporary.write_bytes(message.as_bytes())
    # Readers never see half a file, and a retried message keeps one file.
    os.replace(temporary, folder / f"{name}.eml")
    return sink_id(envelope.message_id)


def write_sms(sink_dir: Path, envelope: Envelope, default_sender: str = "") -> str:
    """Appends one JSON line to `<sink_dir>/<project_id>/sms.log`; message_id de-duplicates."""
    folder = _project_dir(sink_dir, envelope.project_id)
    _append_line(
        folder / "sms.log",
        {
            "message_id": envelope.message_id,
            "at": utc_now().isoformat(),
            "to": envelope.to,
            "from": envelope.sender or default_sender,
            "body": envelope.text,
            "status_callback": envelope.status_callback,
        },
    )
    return sink_id(envelope.message_id)


def write_push(sink_dir: Path, project_id: str, record: dict[str, Any]) -> str:
    """Appends a wallet push to `<sink_dir>/<project_id>/pushes.log`.

    The record should carry `message_id` so a reader can drop a push written twice.
    """
    folder = _project_dir(sink_dir, project_id)
    _append_line(folder / "pushes.log", {"at": utc_now().isoformat(), **record})
    return sink_id(str(record.get("message_id", "")))


def read_log(sink_dir: Path, project_id: str, name: str) -> list[dict[str, Any]]:
    """The records of `sms.log` or `pushes.log`, one per message id (the last one written)."""
    path = Path(sink_dir) / _name(project_id, "project id") / _name(name, "log name")
    if not path.exists():
        return []
    latest: dict[str, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("message_id"):
            latest[record["message_id"]] = record
        else:
            anonymous.append(record)
    return [*latest.values(), *anonymous]
