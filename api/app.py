"""create_app(settings): the Starlette application with its lifespan and routes."""

import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Sequence

from pymongo.monitoring import CommandListener
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from api import demo, google_wallet, hooks, pages, pos_scan, wallet
from api.background import BackgroundJobs, BackgroundLeader, Startable
from api.console import check_templates as check_console_templates
from api.console import console_routes
from api.database import init_database, make_client, round_trip_ms
from api.graphql import GraphQLEndpoint
from api.rest import routes as rest
from api.settings import Settings
from delivery import distribution, rendering
from delivery.automation import AutomationExecutor
from delivery.outbox import Links
from delivery.wallet import apple
from delivery.wallet.signed_passes import SignedPassCache
from delivery.webhooks import BackgroundWebhooks, WebhookWorker
from delivery.worker import BackgroundWorker, OutboxWorker
from domain.jobs import JobRunner

log = logging.getLogger("engage")


async def health(request: Request) -> JSONResponse:
    try:
        millis = await round_trip_ms(request.app.state.mongo)
    except Exception as error:  # any failure means "not healthy", whatever its type
        return JSONResponse(
            {"status": "unavailable", "database": {"ok": False, "error": type(error).__name__}},
            status_code=503,
        )
    # The process id tells apart the workers of `engage serve --workers N` behind one port.
    return JSONResponse(
        {
            "status": "ok",
            "database": {"ok": True, "roundTripMs": round(millis, 2)},
            "process": os.getpid(),
        }
    )


def load_templates(settings: Settings) -> None:
    """Points rendering at the configured templates and checks that every file Engage needs is
    there: a missing one stops the start instead of sending an empty message later."""
    files = settings.template_files
    rendering.use_template_files(files=files)
    rendering.check_builtin_templates()
    pages.check_page_templates(files)
    check_console_templates(files)
    apple.default_images(files)


def create_app(
    settings: Settings,
    embedded: bool = False,
    command_listeners: Sequence[CommandListener] = (),
) -> Starlette:
    """`embedded` marks the bundled development database: a demo project is made on first start.
    `command_listeners` are given to the database client (tests count queries with one)."""
    if not settings.mongodb_uri:
        raise ValueError("create_app needs settings.mongodb_uri (engage serve starts one)")
    uri = settings.mongodb_uri

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        load_templates(settings)
        client = make_client(uri, command_listeners)
        app.state.mongo = client
        app.state.settings = settings
        app.state.signed_passes = SignedPassCache(
            max_entries=settings.apple_pass_cache_entries,
            max_bytes=settings.apple_pass_cache_bytes,
        )
        await init_database(client, settings.database)
        if embedded and settings.demo_project:
            await demo.ensure_demo_project(settings)
        links = Links(base_url=settings.public_base_url, secret_key=settings.secret_key)
        jobs = BackgroundJobs(
            JobRunner(handlers=distribution.job_handlers(links=links)),
            automation=AutomationExecutor(links),
        )
        outbox = BackgroundWorker(OutboxWorker(settings))
        webhooks = BackgroundWebhooks(WebhookWorker(settings))
        loops: list[Startable] = []
        if settings.run_jobs:
            loops.append(jobs)
        if settings.run_worker:
            loops += [outbox, webhooks]
        # Among the processes sharing the database, the lease holder alone runs them.
        leader = BackgroundLeader(loops)
        if loops:
            leader.start()
        # What start-up made lives as long as the process: the collector stops walking it,
        # which shortens the pauses of full collections under load.
        gc.freeze()
        try:
            yield
        finally:
            # Before the client closes: a stopping runner hands its job back to the queue.
            await leader.stop()
            await client.close()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/graphql", GraphQLEndpoint(settings), methods=["GET", "POST"]),
        *pages.routes,
        *pos_scan.routes,
        *google_wallet.routes,
        *hooks.routes,
        *wallet.routes,
        Mount("/console", routes=console_routes(), name="console"),
        *rest.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)
