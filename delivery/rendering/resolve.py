"""Resolving a template reference to a compiled template, built-in or stored."""

from collections import OrderedDict

from delivery.rendering.builtins import builtin_template
from delivery.rendering.compile import CompiledTemplate, compile_template
from delivery.rendering.errors import RenderingError
from domain.errors import CommonError, DomainError, NotFound
from domain.messages import MessageChannel
from domain.templates import (
    BUILTIN_PREFIX,
    TEMPLATE_CHANNELS,
    get_template,
    is_builtin_ref,
)

COMPILED_CACHE_SIZE = 512


_compiled: OrderedDict[tuple[str, int], CompiledTemplate] = OrderedDict()


def _check_channel(channel: MessageChannel) -> None:
    if channel not in TEMPLATE_CHANNELS:
        raise DomainError(CommonError.INVALID_CHANNEL, "templates are for EMAIL or SMS", "channel")


async def resolve_template(
    *, project_id: str, template_ref: str, channel: MessageChannel
) -> CompiledTemplate:
    """`builtin:<name>` (any channel) or the id of one of the project's templates, compiled
    once per version."""
    _check_channel(channel)
    if is_builtin_ref(template_ref):
        return builtin_template(name=template_ref.removeprefix(BUILTIN_PREFIX), channel=channel)
    try:
        stored = await get_template(project_id, template_ref, "templateId")
    except NotFound:
        raise NotFound("template", "templateId") from None
    if stored.channel != channel:
        raise DomainError(
            RenderingError.CHANNEL_MISMATCH,
            f"template {stored.name!r} is for {stored.channel.value}, not {channel.value}",
            "channel",
        )
    key = (stored.key, stored.version)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = compile_template(
            ref=stored.key,
            name=stored.name,
            channel=stored.channel,
            subject=stored.subject,
            html=stored.html,
            text=stored.text,
            version=stored.version,
        )
        _compiled[key] = compiled
        if len(_compiled) > COMPILED_CACHE_SIZE:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(key)
    return compiled
