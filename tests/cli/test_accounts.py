"""`reminders users` and `reminders tokens`, as an operator runs them on the server."""

from __future__ import annotations

import re

import pytest

from scheduler.app import build
from scheduler.errors import SignInRefused
from scheduler.services.accounts import Accounts
from scheduler.services.api_tokens import ApiTokens
from tests.cli.harness import Reminders
from tests.support import make_settings

EMAIL = "nurse@example.org"


def one_time_password(output: str) -> str:
    found = re.search(r"one-time password[^:]*: (\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def rows(output: str) -> list[list[str]]:
    header, *lines = output.splitlines()
    assert header.startswith(("email\t", "name\t")), header
    return [line.split("\t") for line in lines]


def test_an_operator_manages_an_account_from_first_sign_in_to_disabled(
    reminders: Reminders, database_url: str
) -> None:
    added = reminders("users", "add", EMAIL)
    assert added.returncode == 0, added.stderr
    first = one_time_password(added.stdout)
    assert rows(reminders("users", "list").stdout) == [[EMAIL, "staff", "must change password", "never"]]

    app = build(make_settings(database_url))
    try:
        accounts = Accounts(app.database, app.clock)
        assert accounts.sign_in(EMAIL, first).must_change_password

        assert reminders("users", "disable", EMAIL).returncode == 0
        assert rows(reminders("users", "list").stdout)[0][2] == "disabled"
        with pytest.raises(SignInRefused, match="disabled"):
            accounts.sign_in(EMAIL, first)
        assert reminders("users", "enable", EMAIL).returncode == 0

        reset = reminders("users", "passwd", EMAIL)
        assert reset.returncode == 0, reset.stderr
        again = one_time_password(reset.stdout)
        assert again != first
        assert accounts.sign_in(EMAIL, again).must_change_password
    finally:
        app.close()


def test_unknown_accounts_and_tokens_are_refused_by_name(reminders: Reminders) -> None:
    for command in (("users", "disable"), ("users", "enable"), ("users", "passwd")):
        assert (
            "no account for nobody@example.org" in reminders(*command, "nobody@example.org").assert_rejected()
        )
    assert "no token called 'ehr'" in reminders("tokens", "revoke", "ehr").assert_rejected()
    assert "is not an email address" in reminders("users", "add", "not-an-email").assert_rejected()


def test_a_token_is_listed_and_stops_working_once_revoked(reminders: Reminders, database_url: str) -> None:
    made = reminders("tokens", "add", "ehr")
    token = made.stdout.rsplit(" ", 1)[1].strip()
    assert [row[0] for row in rows(reminders("tokens", "list").stdout)] == ["ehr"]
    app = build(make_settings(database_url))
    try:
        tokens = ApiTokens(app.database, app.clock)
        assert tokens.check(token) == "ehr"
        assert reminders("tokens", "revoke", "ehr").returncode == 0
        assert tokens.check(token) is None
        [(name, _, _, revoked)] = rows(reminders("tokens", "list").stdout)
        assert (name, revoked != "-") == ("ehr", True)
    finally:
        app.close()
