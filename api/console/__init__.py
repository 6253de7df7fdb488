"""The marketer console at /console: server-rendered pages over the domain functions.

Each module of the package exposes `routes`; console_routes() gathers them for api/app.py,
which mounts them under /console with the name "console" (route names "console:<name>"),
and lists the page templates it renders in `TEMPLATES`."""

from starlette.routing import BaseRoute

import api.console.automations as automations
import api.console.experiments as experiments
from api.console import (
    campaigns,
    customers,
    dashboard,
    loyalty,
    message_pages,
    referrals,
    settings_brand,
    settings_messaging,
    settings_pages,
    sign_in,
    static,
    template_pages,
)
from api.console import segments as segment_pages
from api.console.web import check_console_templates
from templates import TemplateFiles

# Pages of other areas add their module here.
AREAS = (
    static,
    sign_in,
    dashboard,
    campaigns,
    customers,
    segment_pages,
    settings_pages,
    settings_brand,
    settings_messaging,
    template_pages,
    message_pages,
    experiments,
    automations,
    loyalty,
    referrals,
)


def console_routes() -> list[BaseRoute]:
    return [route for area in AREAS for route in area.routes]


def check_templates(files: TemplateFiles) -> None:
    """Every page template an area renders (its TEMPLATES) and the shared ones are there."""
    check_console_templates(files, [name for area in AREAS for name in area.TEMPLATES])
