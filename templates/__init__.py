"""The templates and images Engage ships (email/, sms/, pages/, passes/), found inside the
installed package whatever the working directory, and an optional folder whose files replace
the shipped ones of the same path."""

from dataclasses import dataclass
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent


class MissingTemplateFile(RuntimeError):
    """A file Engage needs is in neither the override folder nor the installed package."""


@dataclass(frozen=True)
class TemplateFiles:
    """`override` (ENGAGE_TEMPLATES_DIR) is searched first, then the shipped files."""

    override: Path | None = None

    def folders(self, section: str) -> list[Path]:
        """Where files under `section` (e.g. "pages") are looked for, in order."""
        shipped = PACKAGED / section
        return [shipped] if self.override is None else [self.override / section, shipped]

    def path(self, relative: str) -> Path:
        section, _, name = relative.rpartition("/")
        for folder in self.folders(section):
            candidate = folder / name
            if candidate.is_file():
                return candidate
        searched = ", ".join(str(folder) for folder in self.folders(section))
        raise MissingTemplateFile(f"{relative} is missing (looked in {searched})")

    def read_text(self, relative: str) -> str:
        return self.path(relative).read_text(encoding="utf-8")

    def read_bytes(self, relative: str) -> bytes:
        return self.path(relative).read_bytes()
