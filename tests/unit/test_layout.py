"""The layout docs/architecture.md describes, kept: no module grows past what a reader can hold,
and no package imports one above it (the domain imports no framework at all)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scheduler

PACKAGE = Path(scheduler.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 450

# What each package may not import: the ones above it, and for the domain every outside framework.
FORBIDDEN = {
    "domain": ("scheduler.store", "scheduler.services", "scheduler.dispatch", "scheduler.web",
               "scheduler.cli", "scheduler.sms", "sqlalchemy", "twilio", "fastapi", "starlette"),
    "store": ("scheduler.services", "scheduler.dispatch", "scheduler.web", "scheduler.cli"),
    "sms": ("scheduler.services", "scheduler.dispatch", "scheduler.web", "scheduler.cli"),
    "services": ("scheduler.dispatch", "scheduler.web", "scheduler.cli"),
    "dispatch": ("scheduler.web", "scheduler.cli"),
}  # fmt: skip


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_longer_than_a_reader_can_hold(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_one_above_it(package: str) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / package).rglob("*.py")
        for name in imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[package])
    }
    assert not wrong, sorted(wrong)
