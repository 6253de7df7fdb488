"""The `demo` project that the embedded development setup creates on first start."""

import logging

from api.settings import Settings
from domain import projects

log = logging.getLogger("engage")
DEMO_PROJECT = "demo"
DEMO_KEY_FILE = "admin-key"


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
    return secret
