"""The `engage` command: serve, worker, create-project, create-user, import, export-schema,
export-openapi."""

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn
from pydantic import ValidationError
from pymongo import MongoClient
from starlette.applications import Starlette

from api import demo
from api.app import create_app, load_templates
from api.background import BACKGROUND_LEASE
from api.database import init_database, make_client
from api.embedded import EmbeddedDatabase, EmbeddedDatabaseError
from api.netaddr import is_loopback
from api.settings import PROJECT_ROOT, Settings
from domain import projects, service_leases
from templates import MissingTemplateFile


@contextlib.contextmanager
def database_uri(settings: Settings, for_serve: bool) -> Iterator[tuple[str, bool]]:
    """Yields (uri, embedded). Without ENGAGE_MONGODB_URI the embedded server is started,
    or, for one-off commands while `engage serve` runs, the running one is used."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri, False
        return
    embedded = EmbeddedDatabase(settings.data_dir, settings.data_dir / "db")
    try:
        uri = embedded.start()
    except EmbeddedDatabaseError:
        running = embedded.running_uri()
        if for_serve or running is None:
            raise
        yield running, True
        return
    try:
        yield uri, True
    finally:
        embedded.stop()


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def prepare_wallet_credentials(settings: Settings) -> None:
    """Without configured ones, development wallet credentials are made on first start, so the
    first pass request does not wait for RSA keys."""
    from delivery.wallet import certificates, google

    if not settings.apple_certificates_configured:
        certificates.ensure_development_chain(
            settings.data_dir, settings.apple_pass_type_id, settings.apple_team_id
        )
    google.service_account(settings=settings)


WORKER_HEALTHCHECK_SECONDS = 60


def _die_with_parent() -> None:
    """A worker of `engage serve --workers` ends when the process that started it dies, even
    by SIGKILL, instead of serving on alone."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def worker_app() -> Starlette:
    """The app of one `engage serve --workers N` process (uvicorn calls it in each): settings
    from the environment, where the parent put the database's address."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        # The parent died before the line above took effect.
        sys.exit("engage: the serving process is gone")
    settings = Settings()
    load_templates(settings)
    return create_app(settings)


async def _prepare_demo(settings: Settings) -> None:
    client = make_client(settings.mongodb_uri or "")
    try:
        await init_database(client, settings.database)
        await demo.ensure_demo_project(settings)
    finally:
        await client.close()


def _serve_workers(settings: Settings, host: str, port: int, workers: int, embedded: bool) -> None:
    """N processes on one port: the database (embedded or not) and the demo project are made
    once here; each worker connects to the same database, and the background loops run in the
    one holding the background lease."""
    if embedded and settings.demo_project:
        asyncio.run(_prepare_demo(settings))
    # Spawned workers read their settings from the environment, as this process did.
    os.environ["ENGAGE_MONGODB_URI"] = settings.mongodb_uri or ""
    print(
        f"Engage on http://{host}:{port} with {workers} workers (GraphiQL at /graphql)", flush=True
    )
    uvicorn.run(
        "api.cli:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level,
        lifespan="on",
        # A worker answers the parent's health check only once its imports are done, which a
        # busy machine can stretch past uvicorn's 5 s; a hung worker is replaced after this.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def _forget_background_lease(uri: str, database: str) -> None:
    """This process holds the embedded database's directory lock, so no other `engage serve`
    shares the database: a background lease found there is a dead process's, and the loops
    need not wait for it to run out."""
    client: MongoClient[dict[str, object]] = MongoClient(uri)
    try:
        client[database][service_leases.COLLECTION].delete_many({"name": BACKGROUND_LEASE})
    finally:
        client.close()


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    if settings.uses_development_secret and not is_loopback(host):
        # Anyone who reads the generated key's file could forge links; other hosts need a key
        # the operator chose and keeps.
        sys.exit(
            f"engage: serving on {host} needs ENGAGE_SECRET_KEY (at least 32 random characters); "
            "the generated development key is for 127.0.0.1 only"
        )
    # SIGTERM unwinds like Ctrl-C so the embedded database is always stopped.
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        load_templates(settings)
        with database_uri(settings, for_serve=True) as (uri, embedded):
            prepare_wallet_credentials(settings)
            if embedded:
                _forget_background_lease(uri, settings.database)
            served = settings.model_copy(update={"mongodb_uri": uri})
            if workers > 1:
                _serve_workers(served, host, port, workers, embedded)
                return
            app = create_app(served, embedded=embedded)
            print(f"Engage on http://{host}:{port} (GraphiQL at /graphql)", flush=True)
            uvicorn.run(app, host=host, port=port, log_level=settings.log_level, lifespan="on")
    except KeyboardInterrupt:
        pass
    except (EmbeddedDatabaseError, MissingTemplateFile) as error:
        sys.exit(f"engage: {error}")


async def _create_project(uri: str, settings: Settings, name: str, sandbox: bool) -> str:
    client = make_client(uri)
    try:
        await init_database(client, settings.database)
        project, issued = await projects.create_project(name, sandbox=sandbox)
        return f"project {project.name} ({project.key}) admin key, shown once:\n{issued.secret}"
    finally:
        await client.close()


def create_project(settings: Settings, name: str, sandbox: bool) -> None:
    with database_uri(settings, for_serve=False) as (uri, _):
        print(asyncio.run(_create_project(uri, settings, name, sandbox)))


async def _create_user(uri: str, settings: Settings, project: str, email: str, role: str) -> str:
    from api.import_command import find_project
    from domain import console

    client = make_client(uri)
    try:
        await init_database(client, settings.database)
        found = await find_project(project)
        issued = await console.create_user(
            project_id=found.key, email=email, role=role, created_by="engage create-user"
        )
        user = issued.user
        return (
            f"console user {user.email} ({user.role.value}) of project {found.name} "
            f"({found.key}); password, shown once:\n{issued.password}"
        )
    finally:
        await client.close()


def create_user(settings: Settings, project: str, email: str, role: str) -> None:
    """Adds a console user and prints their one-time password; exits 1 with the reason."""
    from api.import_command import ImportCommandError
    from domain.errors import DomainError

    try:
        with database_uri(settings, for_serve=False) as (uri, _):
            print(asyncio.run(_create_user(uri, settings, project, email, role)))
    except (ImportCommandError, EmbeddedDatabaseError) as error:
        sys.exit(f"engage: {error}")
    except DomainError as error:
        sys.exit(f"engage: {error.code}: {error}")


async def _run_worker(uri: str, settings: Settings) -> None:
    from delivery.sms import close_sms_clients
    from delivery.webhooks import WebhookWorker
    from delivery.worker import OutboxWorker

    client = make_client(uri)
    webhooks: WebhookWorker | None = None
    try:
        await init_database(client, settings.database)
        worker = OutboxWorker(settings)
        webhooks = WebhookWorker(settings, owner=worker.owner)
        print(f"outbox worker {worker.owner} running", flush=True)
        await asyncio.gather(worker.run_forever(), webhooks.run_forever())
    finally:
        await close_sms_clients()
        if webhooks is not None:
            await webhooks.close()
        await client.close()


def worker(settings: Settings) -> None:
    """Sends the outbox and the webhook deliveries until stopped; as many may run as the
    providers allow."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        with database_uri(settings, for_serve=False) as (uri, _):
            asyncio.run(_run_worker(uri, settings))
    except KeyboardInterrupt:
        pass
    except EmbeddedDatabaseError as error:
        sys.exit(f"engage: {error}")


def import_file(settings: Settings, kind: str, path: Path, project: str, effects: bool) -> None:
    """Imports a file into a project through the service's database; exits 1 when the job
    failed or the file was refused."""
    from api.import_command import ImportCommandError, run_import
    from domain.jobs import JobStatus

    try:
        with database_uri(settings, for_serve=False) as (uri, _):
            job = asyncio.run(run_import(uri, settings, kind, path, project, effects))
    except (ImportCommandError, EmbeddedDatabaseError) as error:
        sys.exit(f"engage: {error}")
    if job.status != JobStatus.SUCCEEDED:
        sys.exit(1)


def export_schema(path: Path) -> None:
    from schema.build import schema_sdl

    path.write_text(schema_sdl(Settings()))
    print(f"wrote {path}")


def export_openapi(path: Path) -> None:
    import json

    from api.rest.routes import document

    path.write_text(json.dumps(document(), indent=2, sort_keys=False) + "\n")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="engage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="start the API (and the embedded database)")
    serve_cmd.add_argument("--host", default=None)
    serve_cmd.add_argument("--port", type=int, default=None)
    serve_cmd.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API processes on the port, all on one database (default: ENGAGE_WORKERS, 1)",
    )
    project_cmd = commands.add_parser("create-project", help="create a project, print its key")
    project_cmd.add_argument("name")
    project_cmd.add_argument("--sandbox", action="store_true")
    user_cmd = commands.add_parser(
        "create-user", help="add a console user to a project, print their one-time password"
    )
    user_cmd.add_argument("project", help="the project's id or name")
    user_cmd.add_argument("email")
    user_cmd.add_argument(
        "--role",
        default="MARKETER",
        type=str.upper,
        choices=["OWNER", "MARKETER", "VIEWER"],
        help="OWNER manages users and API keys; VIEWER only reads (default: MARKETER)",
    )
    commands.add_parser("worker", help="send the outbox (also runs inside serve)")
    import_cmd = commands.add_parser(
        "import", help="import customers or orders from a JSON lines or CSV file"
    )
    import_cmd.add_argument("kind", choices=["customers", "orders"])
    import_cmd.add_argument("file", type=Path)
    import_cmd.add_argument("--project", required=True, help="the project's id or name")
    import_cmd.add_argument(
        "--apply-effects",
        action="store_true",
        help="give each new row the effects creating it now would have (points, events)",
    )
    schema_cmd = commands.add_parser("export-schema", help="write schema/schema.graphql")
    schema_cmd.add_argument("--out", type=Path, default=PROJECT_ROOT / "schema" / "schema.graphql")
    openapi_cmd = commands.add_parser(
        "export-openapi", help="write the REST API's OpenAPI document"
    )
    openapi_cmd.add_argument("--out", type=Path, default=PROJECT_ROOT / "clients" / "openapi.json")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        sys.exit(f"engage: invalid settings: {problems}")
    if args.command == "serve":
        workers = args.workers if args.workers is not None else settings.workers
        if workers < 1:
            sys.exit("engage: --workers is at least 1")
        serve(settings, args.host or settings.host, args.port or settings.port, workers)
    elif args.command == "create-project":
        create_project(settings, args.name, args.sandbox)
    elif args.command == "create-user":
        create_user(settings, args.project, args.email, args.role)
    elif args.command == "worker":
        worker(settings)
    elif args.command == "import":
        import_file(settings, args.kind, args.file, args.project, args.apply_effects)
    elif args.command == "export-schema":
        export_schema(args.out)
    elif args.command == "export-openapi":
        export_openapi(args.out)


if __name__ == "__main__":
    main()
