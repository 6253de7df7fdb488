"""The official Add to Apple Wallet / Google Wallet badges, served once the operator installs them.

Apple and Google allow only their own badge artwork, unaltered, so none ships with Engage: the
operator downloads it and puts it in the badges folder; until then pages show plain buttons.
"""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

# The file names looked for, per wallet, in the order tried.
BADGE_FILES = {
    "apple": ("add-to-apple-wallet.svg", "add-to-apple-wallet.png"),
    "google": ("add-to-google-wallet.svg", "add-to-google-wallet.png"),
}
MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
MAX_BADGE_BYTES = 512 * 1024


def _installed_file(folder: Path, wallet: str) -> Path | None:
    for name in BADGE_FILES[wallet]:
        path = folder / name
        if path.is_file() and 0 < path.stat().st_size <= MAX_BADGE_BYTES:
            return path
    return None


def installed(folder: Path, wallet: str) -> str:
    """The badge's URL path when its file is installed, else ""."""
    path = _installed_file(folder, wallet)
    return f"/wallet-badges/{path.name}" if path else ""


async def badge(request: Request) -> Response:
    name = request.path_params["name"]
    folder: Path = request.app.state.settings.badges_dir
    wallet = next((w for w, names in BADGE_FILES.items() if name in names), None)
    path = _installed_file(folder, wallet) if wallet else None
    if path is None or path.name != name:
        return Response("Not found\n", status_code=404, media_type="text/plain")
    return Response(
        path.read_bytes(),
        media_type=MEDIA_TYPES[path.suffix],
        headers={
            "Cache-Control": "public, max-age=3600",
            # An SVG opened on its own must not run anything in Engage's origin.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes: list[BaseRoute] = [Route("/wallet-badges/{name}", badge, methods=["GET"])]
