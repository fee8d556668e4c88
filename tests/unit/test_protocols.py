"""Built-in protocols and custom ones from a TOML file, with clear errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.domain.protocols import BUILTIN, load_protocols
from scheduler.errors import ConfigError


def test_the_builtins_match_the_design() -> None:
    assert {p.id: (p.induction_days, p.touch_up_days) for p in BUILTIN.values()} == {
        "iv-6x-mwf": ((0, 2, 4, 7, 9, 11), 28),
        "iv-6x-2w": ((0, 3, 7, 10, 14, 17), 28),
        "esk-trd": ((0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49), 14),
        "esk-mdsi": ((0, 3, 7, 10, 14, 17, 21, 24), None),
        "touch-up-only": ((0,), 28),
    }
    assert (BUILTIN["esk-trd"].touch_up_min_days, BUILTIN["esk-trd"].touch_up_max_days) == (7, 14)
    assert BUILTIN["iv-6x-mwf"].interval_problem(84) is None
    assert BUILTIN["iv-6x-mwf"].interval_problem(85) is not None
    assert BUILTIN["esk-mdsi"].interval_problem(28) is not None


def test_a_custom_protocol_is_added_to_the_builtins(tmp_path: Path) -> None:
    path = tmp_path / "protocols.toml"
    path.write_text(
        '[protocols.iv-8x]\nname = "IV, eight sessions"\nfamily = "iv"\n'
        "days = [0, 2, 4, 7, 9, 11, 14, 16]\ntouch_up_days = 35\n"
    )
    protocols = load_protocols(path)
    assert set(BUILTIN) < set(protocols)
    assert protocols["iv-8x"].induction_days[-1] == 16
    assert protocols["iv-8x"].touch_up_days == 35


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[protocols.x\n", "not valid TOML"),
        ("title = 'no tables'\n", "expected one or more"),
        ("[protocols.iv-6x-mwf]\nname='x'\ndays=[0]\n", "built-in"),
        ("[protocols.p]\nname='x'\ndays=[1, 3]\n", "start with 0"),
        ("[protocols.p]\nname='x'\ndays=[0, 3, 3]\n", "increase"),
        ("[protocols.p]\nname='x'\ndays=['0']\n", "whole numbers"),
        ("[protocols.p]\nname='x'\ndays=[0]\nfamily='oral'\n", "family"),
        ("[protocols.p]\nname='x'\ndays=[0]\ntouch_up_days=200\n", "within its limits"),
        ("[protocols.p]\nname='x'\ndays=[0]\nrepeat=2\n", "unknown keys: repeat"),
        ("[protocols.P_1]\nname='x'\ndays=[0]\n", "lower-case"),
    ],
    ids=[
        "syntax", "no-tables", "shadows-builtin", "not-from-zero", "not-increasing",
        "not-numbers", "bad-family", "interval-out-of-range", "unknown-key", "bad-id",
    ],
)  # fmt: skip
def test_a_bad_protocols_file_is_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "protocols.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_protocols(path)
    assert "PROTOCOLS_FILE" in str(info.value)
