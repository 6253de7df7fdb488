"""Shipped templates and ENGAGE_TEMPLATES_DIR: an override folder replaces any file, built-ins
included, and a built-in that is missing or empty stops the start."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from delivery import rendering
from domain.messages import MessageChannel
from templates import PACKAGED, MissingTemplateFile, TemplateFiles


@pytest.fixture(autouse=True)
def shipped_templates_afterwards() -> Iterator[None]:
    """Rendering keeps the process's choice of templates: later tests get the shipped ones."""
    yield
    rendering.use_template_files(files=TemplateFiles())


def test_shipped_files_are_found_from_the_package_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = TemplateFiles()
    assert files.path("email/coupon.html") == PACKAGED / "email" / "coupon.html"
    assert files.read_bytes("passes/icon.png").startswith(b"\x89PNG")
    with pytest.raises(MissingTemplateFile, match=r"email/nothing\.html is missing"):
        files.path("email/nothing.html")


@pytest.fixture
async def overridden(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    override = tmp_path / "override"
    (override / "email").mkdir(parents=True)
    (override / "pages").mkdir()
    (override / "passes").mkdir()
    (override / "email" / "coupon.subject.txt").write_text("Yours: {{ offer.campaign }}\n")
    (override / "pages" / "not_found.html").write_text("<p>Our own not-found page</p>")
    (override / "passes" / "icon@3x.png").write_bytes(b"\x89PNG our icon")
    app = create_app(settings.model_copy(update={"templates_dir": override}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_override_folder_replaces_built_ins_pages_and_images(
    overridden: httpx.AsyncClient,
) -> None:
    coupon = rendering.builtin_template(name="coupon", channel=MessageChannel.EMAIL)
    assert coupon.subject_source == "Yours: {{ offer.campaign }}"
    # Files the folder does not hold still come from the package.
    assert coupon.text_source == (PACKAGED / "email" / "coupon.txt").read_text()

    page = await overridden.get("/c/NO-SUCH-CODE")
    assert page.status_code == 404
    assert "Our own not-found page" in page.text

    logo = await overridden.get("/passes/google/logo.png")
    assert logo.content == b"\x89PNG our icon"


@pytest.mark.parametrize(
    "relative", ["email/coupon.subject.txt", "sms/points.txt", "email/layout.html"]
)
async def test_an_empty_built_in_stops_the_start(
    settings: Settings, tmp_path: Path, relative: str
) -> None:
    override = tmp_path / "override"
    (override / relative).parent.mkdir(parents=True)
    (override / relative).write_text("")
    app = create_app(settings.model_copy(update={"templates_dir": override}))
    with pytest.raises(MissingTemplateFile):
        async with app.router.lifespan_context(app):
            pass
