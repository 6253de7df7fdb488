from pathlib import Path

from api.settings import Settings
from schema.build import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_schema_file_matches_code() -> None:
    """Clients read schema/schema.graphql; regenerate it with `engage export-schema`."""
    assert SCHEMA_FILE.read_text() == schema_sdl(Settings())
