"""What every channel sender takes and raises: an envelope in, a provider id out."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from delivery.config import DeliverySettings
from domain.messages import Message, MessageChannel
from domain.projects import Project


@dataclass(frozen=True)
class Envelope:
    """One rendered message, ready for a provider."""

    message_id: str
    project_id: str
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    # Email: the From header; SMS: the sender number (empty: the service default).
    sender: str = ""
    # Email: the one-click opt-out link, sent as List-Unsubscribe.
    unsubscribe_url: str = ""
    # SMS: where the provider reports delivery.
    status_callback: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class SendError(Exception):
    """The provider did not take the message."""


class TransientSendError(SendError):
    """Worth trying again later: SMTP 4xx, HTTP 429 and 5xx, timeouts, lost connections."""


class PermanentSendError(SendError):
    """Trying again cannot help: a rejected address, a 4xx other than 429, bad credentials."""


@dataclass(frozen=True)
class ChannelSender:
    """How one outbox channel goes out: `send` to its provider, or `sink` (sandbox projects, or
    no provider configured) to a local record. Both return the provider's id for the message."""

    configured: Callable[[DeliverySettings], bool]
    send: Callable[[DeliverySettings, Message, Project], Awaitable[str]]
    sink: Callable[[DeliverySettings, Message, Project], Awaitable[str]]
    # Why a project's message goes to the sink ("" when it is sent): for channels whose
    # provider depends on the project. Without it: sandbox, else `configured`.
    sink_reason: Callable[[DeliverySettings, Project], str] | None = None

    def reason_to_sink(self, settings: DeliverySettings, project: Project) -> str:
        if self.sink_reason is not None:
            return self.sink_reason(settings, project)
        if project.sandbox:
            return "SANDBOX"
        return "" if self.configured(settings) else "NO_PROVIDER"


SENDERS: dict[MessageChannel, ChannelSender] = {}


def register_sender(channel: MessageChannel, sender: ChannelSender) -> None:
    SENDERS[channel] = sender
