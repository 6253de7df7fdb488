"""GraphQL for history import: importCustomers and importOrders queue a job reading an uploaded
file (multipart) or inline text."""

from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from domain import imports
from domain.errors import CommonError, DomainError
from schema.context import Info
from schema.errors import payload
from schema.jobs import JobType
from schema.permissions import IsAdmin
from schema.types import UserError

_FILE_HELP = (
    "Give the rows as `file` (a multipart upload) or as `data` (inline text, for small files), "
    "in JSON lines or CSV with a header. Queues a job: follow it with job(id) { status done "
    "total rowsImported rowsUnchanged rowsFailed rowErrors }. Rows already stored are left "
    "alone, so importing a file twice changes nothing. "
)
_EFFECTS_HELP = (
    "False (the default): the history is stored and nothing reacts to it. True: each new row "
    "has the effects creating it now would have"
)


@strawberry.type(
    description=(
        "The result of importCustomers or importOrders: the queued job, or what was wrong "
        "with the file."
    ),
)
class ImportPayload:
    job: JobType | None = strawberry.field(
        default=None, description="The queued import job; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            "What was wrong with the file as a whole; empty on success. Problems of "
            "single rows are in the job's rowErrors."
        ),
    )


async def _file_bytes(file: Upload | None, data: str | None, limit: int) -> bytes:
    """Exactly one of the upload and the inline text, read up to one byte past `limit`."""
    if (file is None) == (data is None):
        raise DomainError(
            CommonError.INVALID, "give either file or data, not both or neither", "file"
        )
    if data is not None:
        return data.encode()
    read: bytes = await file.read(limit + 1)  # type: ignore[union-attr]
    return read


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description=_FILE_HELP
        + "Customer fields: sourceId (required, the shop's id), email, phone, name, tags, "
        "attributes, consentEmail, consentSms (or consents {email sms}), createdAt (ISO 8601). "
        "applyEffects: "
        + _EFFECTS_HELP
        + " (the customer.created event, which automations listen to).",
    )
    @payload
    async def import_customers(
        self,
        info: Info,
        file: Annotated[
            Upload | None,
            strawberry.argument(
                description=(
                    "The file as a multipart upload (JSON lines or CSV); give this or `data`."
                )
            ),
        ] = None,
        data: Annotated[
            str | None,
            strawberry.argument(
                description="The file's text inline, for small files; give this or `file`."
            ),
        ] = None,
        apply_effects: Annotated[
            bool,
            strawberry.argument(
                description=(
                    "Whether each new customer has the effects creating it now would have "
                    "(the customer.created event); false stores history only."
                )
            ),
        ] = False,
    ) -> ImportPayload:
        limit = info.context.settings.import_max_bytes
        job = await imports.import_customers(
            info.context.project_id,
            await _file_bytes(file, data, limit),
            apply_effects=apply_effects,
            max_bytes=limit,
        )
        return ImportPayload(job=JobType.from_doc(job))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description=_FILE_HELP
        + "Order fields: id (required), createdAt or placedAt (required, ISO 8601), amount "
        "(minor units) and currency, items [{sku quantity price category}], codes, status "
        "(PAID, CANCELLED or REFUNDED), and the customer as customerSourceId or customerEmail. "
        "Paid orders move their customers' metrics (first and last order, count, total spent). "
        "applyEffects: " + _EFFECTS_HELP + " (points, referrals, the order.recorded event).",
    )
    @payload
    async def import_orders(
        self,
        info: Info,
        file: Annotated[
            Upload | None,
            strawberry.argument(
                description=(
                    "The file as a multipart upload (JSON lines or CSV); give this or `data`."
                )
            ),
        ] = None,
        data: Annotated[
            str | None,
            strawberry.argument(
                description="The file's text inline, for small files; give this or `file`."
            ),
        ] = None,
        apply_effects: Annotated[
            bool,
            strawberry.argument(
                description=(
                    "Whether each new order has the effects recording it now would have "
                    "(points, referrals, the order.recorded event); false stores history "
                    "only."
                )
            ),
        ] = False,
    ) -> ImportPayload:
        limit = info.context.settings.import_max_bytes
        job = await imports.import_orders(
            info.context.project_id,
            await _file_bytes(file, data, limit),
            apply_effects=apply_effects,
            max_bytes=limit,
        )
        return ImportPayload(job=JobType.from_doc(job))
