"""The console's stylesheet and script, served by Engage itself (no CDN, works offline)."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from api.console.web import STATIC_FILES, settings_of


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return PlainTextResponse("Not found\n", status_code=404)
    body = settings_of(request).template_files.read_bytes(f"console/static/{name}")
    return Response(
        body,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


TEMPLATES = ()
routes: list[BaseRoute] = [
    Route("/static/{name}", static_file, methods=["GET", "HEAD"], name="static"),
]
