"""Settings for owners: the project's console users and its API keys."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.console.web import (
    Visit,
    console_page,
    form_errors,
    redirect,
    render,
    url,
)
from domain import console, projects
from domain.errors import CommonError, DomainError, NotFound, Problem

ROLE_OPTIONS = [
    ("MARKETER", "Marketer: runs campaigns and customers"),
    ("VIEWER", "Viewer: reads only"),
    ("OWNER", "Owner: also users, API keys and erasure"),
]
KEY_ROLE_OPTIONS = [
    ("ADMIN", "Admin: the whole API of this project"),
    ("POS", "POS: validate and redeem codes at a till"),
]
DONE = {
    "user-removed": "The user was removed and signed out everywhere.",
    "key-revoked": "The API key was revoked: requests with it are refused from now on.",
}


@console_page(console.ConsoleRole.OWNER)
async def settings_index(request: Request, visit: Visit) -> Response:
    return render(request, "console/settings.html", {"title": "Settings", "area": "settings"})


async def _users_page(
    request: Request,
    visit: Visit,
    *,
    errors: DomainError | None = None,
    email: str = "",
    role: str = "MARKETER",
    issued: console.IssuedUser | None = None,
) -> Response:
    return render(
        request,
        "console/users.html",
        {
            "title": "Users",
            "area": "settings",
            "users": await console.list_users(project_id=visit.project_id),
            "errors": form_errors(errors) if errors else form_errors([]),
            "email": email,
            "role": role,
            "role_options": ROLE_OPTIONS,
            "issued": issued,
            "done": DONE.get(request.query_params.get("done", ""), ""),
        },
        400 if errors else 200,
    )


@console_page(console.ConsoleRole.OWNER)
async def users(request: Request, visit: Visit) -> Response:
    return await _users_page(request, visit)


@console_page(console.ConsoleRole.OWNER)
async def add_user(request: Request, visit: Visit) -> Response:
    form = await request.form()
    email = str(form.get("email") or "")
    role = str(form.get("role") or "")
    try:
        issued = await console.create_user(
            project_id=visit.project_id, email=email, role=role, created_by=visit.user.email
        )
    except DomainError as error:
        return await _users_page(request, visit, errors=error, email=email, role=role)
    # The password is shown in this answer only (never stored in clear, never in a URL).
    return await _users_page(request, visit, issued=issued)


@console_page(console.ConsoleRole.OWNER)
async def remove_user_form(request: Request, visit: Visit) -> Response:
    user = await console.get_user(
        project_id=visit.project_id, user_id=request.path_params["user_id"]
    )
    return render(
        request,
        "console/confirm.html",
        {
            "title": f"Remove {user.email}?",
            "area": "settings",
            "text": f"{user.email} ({user.role.value.capitalize()}) loses access to this project "
            "and is signed out everywhere at once.",
            "action": url(request, "user_remove_post", user_id=user.key),
            "confirm_label": "Remove user",
            "back_href": url(request, "users"),
            "back_label": "Keep this user",
        },
    )


@console_page(console.ConsoleRole.OWNER)
async def remove_user(request: Request, visit: Visit) -> Response:
    try:
        await console.remove_user(
            project_id=visit.project_id,
            user_id=request.path_params["user_id"],
            removed_by=visit.user.key,
        )
    except NotFound:
        raise
    except DomainError as error:
        return await _users_page(request, visit, errors=error)
    return redirect(request, "users", query="done=user-removed")


async def _keys_page(
    request: Request,
    visit: Visit,
    *,
    errors: DomainError | None = None,
    name: str = "",
    role: str = "ADMIN",
    issued: projects.IssuedKey | None = None,
) -> Response:
    return render(
        request,
        "console/api_keys.html",
        {
            "title": "API keys",
            "area": "settings",
            "keys": await projects.list_api_keys(visit.project_id),
            "errors": form_errors(errors) if errors else form_errors([]),
            "name": name,
            "role": role,
            "role_options": KEY_ROLE_OPTIONS,
            "issued": issued,
            "done": DONE.get(request.query_params.get("done", ""), ""),
        },
        400 if errors else 200,
    )


@console_page(console.ConsoleRole.OWNER)
async def api_keys(request: Request, visit: Visit) -> Response:
    return await _keys_page(request, visit)


@console_page(console.ConsoleRole.OWNER)
async def create_api_key(request: Request, visit: Visit) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "")
    problems = []
    if not name:
        problems.append(("name", "give the key a name, such as the shop or till that uses it"))
    try:
        chosen = projects.Role(role)
    except ValueError:
        problems.append(("role", "role is ADMIN or POS"))
    if problems:
        error = DomainError.of([Problem(CommonError.INVALID, m, f) for f, m in problems])
        return await _keys_page(request, visit, errors=error, name=name, role=role)
    issued = await projects.create_api_key(visit.project_id, chosen, name=name)
    return await _keys_page(request, visit, issued=issued)


@console_page(console.ConsoleRole.OWNER)
async def revoke_key_form(request: Request, visit: Visit) -> Response:
    key_id = request.path_params["key_id"]
    key = next(
        (k for k in await projects.list_api_keys(visit.project_id) if str(k.id) == key_id), None
    )
    if key is None:
        raise NotFound("API key")
    label = key.name or key.prefix
    return render(
        request,
        "console/confirm.html",
        {
            "title": f"Revoke the API key “{label}”?",
            "area": "settings",
            "text": f"Every request made with {key.prefix}… ({key.role.value}) is refused from "
            "then on. Whatever uses it needs a new key.",
            "action": url(request, "api_key_revoke_post", key_id=key_id),
            "confirm_label": "Revoke key",
            "back_href": url(request, "api_keys"),
            "back_label": "Keep this key",
        },
    )


@console_page(console.ConsoleRole.OWNER)
async def revoke_key(request: Request, visit: Visit) -> Response:
    try:
        await projects.revoke_api_key(visit.project_id, request.path_params["key_id"])
    except NotFound:
        raise
    except DomainError as error:
        return await _keys_page(request, visit, errors=error)
    return redirect(request, "api_keys", query="done=key-revoked")


TEMPLATES = ("settings.html", "users.html", "api_keys.html")
routes: list[BaseRoute] = [
    Route("/settings", settings_index, methods=["GET"], name="settings"),
    Route("/settings/users", users, methods=["GET"], name="users"),
    Route("/settings/users", add_user, methods=["POST"], name="users_post"),
    Route(
        "/settings/users/{user_id}/remove", remove_user_form, methods=["GET"], name="user_remove"
    ),
    Route(
        "/settings/users/{user_id}/remove",
        remove_user,
        methods=["POST"],
        name="user_remove_post",
    ),
    Route("/settings/api-keys", api_keys, methods=["GET"], name="api_keys"),
    Route("/settings/api-keys", create_api_key, methods=["POST"], name="api_keys_post"),
    Route(
        "/settings/api-keys/{key_id}/revoke",
        revoke_key_form,
        methods=["GET"],
        name="api_key_revoke",
    ),
    Route(
        "/settings/api-keys/{key_id}/revoke",
        revoke_key,
        methods=["POST"],
        name="api_key_revoke_post",
    ),
]
