"""The `demo` project that the embedded development setup creates on first start."""

import logging
import os

from api.settings import Settings
from domain import console, projects

log = logging.getLogger("engage")
DEMO_PROJECT = "demo"
DEMO_KEY_FILE = "admin-key"
DEMO_OWNER = "owner@demo.local"
CONSOLE_PASSWORD_FILE = "console-password"  # noqa: S105 (a file name)


async def ensure_demo_project(settings: Settings) -> str:
    """Creates the demo project and its admin key once; prints the key on every start."""
    key_file = settings.data_dir / DEMO_KEY_FILE
    project = await projects.Project.find_one({"name": DEMO_PROJECT})
    secret = key_file.read_text().strip() if key_file.exists() else ""
    if project is None:
        project, issued = await projects.create_project(DEMO_PROJECT)
        secret = issued.secret
    elif not secret or await projects.find_active_key(secret) is None:
        secret = (await projects.create_api_key(project.key, projects.Role.ADMIN, "demo")).secret
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(secret + "\n")
    key_file.chmod(0o600)
    print(f"Engage demo project admin key (also in {key_file}):\n  {secret}", flush=True)
    await ensure_demo_owner(settings, project.key)
    return secret


def _write_private(path: "os.PathLike[str]", text: str) -> None:
    # Created with its final mode: the password is never readable by others, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)


async def ensure_demo_owner(settings: Settings, project_id: str) -> None:
    """The demo project's console owner, made once; its password is printed when it is made
    (or made again because its file went missing) and kept in <data_dir>/console-password."""
    password_file = settings.data_dir / CONSOLE_PASSWORD_FILE
    console_url = f"{settings.public_base_url}/console/"
    owner = await console.find_user_by_email(project_id=project_id, email=DEMO_OWNER)
    if owner is not None and password_file.exists():
        saved = password_file.read_text().strip()
        if saved and await console.password_matches(user=owner, password=saved):
            print(
                f"Engage console: {console_url} as {DEMO_OWNER}, password in {password_file}",
                flush=True,
            )
            return
    if owner is None:
        password = (
            await console.create_user(
                project_id=project_id,
                email=DEMO_OWNER,
                role=console.ConsoleRole.OWNER,
                created_by="engage serve",
            )
        ).password
    else:
        password = await console.reset_password(project_id=project_id, user_id=owner.key)
    password_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(password_file, password + "\n")
    print(
        f"Engage console: {console_url} as {DEMO_OWNER} with this password, shown once "
        f"(kept in {password_file}):\n  {password}",
        flush=True,
    )
