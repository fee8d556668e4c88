"""Cursor paging for the API's lists.

A cursor is opaque to clients: the position after the last item of a page, for one kind of list.
A list answers with `next_cursor` and `next` (the same request with the cursor) while more items
follow; both are null on the last page. Lists are in id order and new items get higher ids, so a
client paging on while items are added neither skips nor repeats one.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from pydantic import BaseModel, Field

from scheduler.services.results import PatientView
from scheduler.web.api_problems import field_problem, invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode(kind: str, after: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None) -> int:
    """The id a cursor points after (0 for none); 422 for a cursor this list did not give out."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found, _, after = text.partition(":")
    if found != kind or not after.isdigit() or not after.isascii():
        raise invalid([field_problem("query", "cursor", "not a cursor this list gave out")])
    return int(after)


def next_link(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    url = request.url.include_query_params(cursor=cursor)
    return f"{url.path}?{url.query}"


class PatientPage(BaseModel):
    """One page of patients, in id order."""

    items: list[PatientView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next: str | None = Field(
        description="The next page's path and query, or null on the last page.",
        examples=["/api/v1/patients?limit=50&cursor=cDo1MA"],
    )
