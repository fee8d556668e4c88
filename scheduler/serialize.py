"""JSON at the edges: the one place typed results become the JSON the CLI prints and the API sends.

The API's responses go through the same models (their serializers write instants with `+00:00`),
so `reminders show --json` and `GET /api/v1/patients/{id}` print the same document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def to_json(value: BaseModel | Sequence[BaseModel]) -> Any:
    """`value` as JSON-ready Python values (dicts, lists, strings, numbers)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return [item.model_dump(mode="json") for item in value]


def dumps(value: BaseModel | Sequence[BaseModel], *, indent: int | None = 2) -> str:
    return json.dumps(to_json(value), indent=indent, ensure_ascii=False)
