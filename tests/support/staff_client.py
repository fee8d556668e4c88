"""A staff member's browser as a test client sees it: the forms' CSRF tokens, signing in, posting."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from starlette.routing import BaseRoute


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str) -> Response:
    csrf = csrf_of(client.get("/login").text)
    response: Response = client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf}, follow_redirects=False
    )
    return response


def post(
    client: TestClient, path: str, data: dict[str, str] | None = None, *, page: str = "/enrol"
) -> Response:
    """A form post with this session's token, as the page's own form would send it."""
    csrf = csrf_of(client.get(page).text)
    response: Response = client.post(path, data={"csrf": csrf, **(data or {})}, follow_redirects=False)
    return response


def flat_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every endpoint of a route table with its full path. FastAPI keeps an included router
    whole in the table in newer releases, and copies its routes in older ones: both are read."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from flat_routes(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
