"""Chromium (Debian's, driven by Playwright) against the app served by uvicorn on a free port."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from starlette.applications import Starlette

from api.embedded import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int
    phone: bool


SIZES = [Size("phone", 390, 844, True), Size("desktop", 1280, 800, False)]


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing at /usr/bin/chromium: scripts/test installs it with apt")
    return CHROMIUM


@pytest_asyncio.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def site(app: Starlette) -> AsyncIterator[str]:
    """The test's app (lifespan already running) served over a real socket on this loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


@pytest.fixture(params=SIZES, ids=[size.name for size in SIZES])
def size(request: pytest.FixtureRequest) -> Size:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def context(browser: Browser, size: Size, site: str) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(
        viewport={"width": size.width, "height": size.height},
        is_mobile=size.phone,
        has_touch=size.phone,
        base_url=site,
    )
    yield made
    await made.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, size: Size, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{size.name}.png"
    await page.screenshot(path=path)
    return path
