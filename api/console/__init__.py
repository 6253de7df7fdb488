"""The marketer console at /console: server-rendered pages over the domain functions.

Each module of the package exposes `routes`; console_routes() gathers them for api/app.py,
which mounts them under /console with the name "console" (route names "console:<name>")."""

from starlette.routing import BaseRoute

from api.console import campaigns, dashboard, sign_in, static

# Pages of other areas add their module here.
AREAS = (static, sign_in, dashboard, campaigns)


def console_routes() -> list[BaseRoute]:
    return [route for area in AREAS for route in area.routes]
