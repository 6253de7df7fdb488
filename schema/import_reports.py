"""GraphQL for what an import reports about its rows: counts and the problems of skipped rows."""

import strawberry

from domain import imports


@strawberry.type(name="ImportRowError", description="A row an import skipped, and why.")
class ImportRowErrorType:
    row: int = strawberry.field(
        description="The line the row starts on (in a CSV file the header is line 1)."
    )
    field: str | None = strawberry.field(description="The row's field at fault, if one is.")
    code: str = strawberry.field(
        description="What went wrong, a DataImportError or CommonError value."
    )
    message: str = strawberry.field(
        description="An English sentence for people; never switch on it."
    )

    @classmethod
    def from_doc(cls, doc: imports.ImportRowError) -> "ImportRowErrorType":
        return cls(row=doc.row, field=doc.field, code=doc.code, message=doc.message)
