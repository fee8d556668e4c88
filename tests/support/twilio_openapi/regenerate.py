"""Write `messages.json`: the part of Twilio's OpenAPI document the fake Twilio checks against.

Run it with the path of Twilio's full document for the 2010-04-01 API (`twilio_api_v2010.json` from
the twilio/twilio-oai repository, Apache License 2.0, see LICENSE):

    python tests/support/twilio_openapi/regenerate.py path/to/twilio_api_v2010.json

It keeps the Messages resource (`Messages.json`: create and list) and every schema it refers to,
so the subset is a valid OpenAPI document on its own.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
HERE = Path(__file__).resolve().parent
_REF = re.compile(r'"\$ref": "#/components/schemas/([^"]+)"')


def subset(document: dict[str, Any]) -> dict[str, Any]:
    item, info = document["paths"][MESSAGES_PATH], document["info"]
    kept = {"post": item["post"], "get": item["get"]}
    schemas = document["components"]["schemas"]
    wanted: dict[str, Any] = {}
    pending = set(_REF.findall(json.dumps(kept)))
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted[name] = schemas[name]
            pending |= set(_REF.findall(json.dumps(schemas[name]))) - set(wanted)
    return {
        "openapi": document["openapi"],
        "info": {**info, "description": f"The Messages resource of: {info['description']}"},
        "servers": document.get("servers", []),
        "paths": {MESSAGES_PATH: kept},
        "components": {
            "schemas": dict(sorted(wanted.items())),
            "securitySchemes": document["components"].get("securitySchemes", {}),
        },
        "security": document.get("security", []),
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {Path(__file__).name} path/to/twilio_api_v2010.json")
    document = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    target = HERE / "messages.json"
    target.write_text(json.dumps(subset(document), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
