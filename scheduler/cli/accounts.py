"""Commands that manage staff accounts and API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from scheduler.cli.base import cli, opened

if TYPE_CHECKING:
    from datetime import datetime


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@cli.group()
def users() -> None:
    """Manage staff accounts for the admin web app."""


@users.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the account admin rights (the Staff page).")
@click.option("--prompt", "ask", is_flag=True, help="Type the password instead of generating one.")
def users_add(email: str, admin: bool, ask: bool) -> None:
    """Create a staff account. A generated password is printed once and must be replaced at the
    first sign-in; with --prompt the password typed is the user's own."""
    from scheduler.services.accounts import Accounts

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if ask else None
    with opened() as app:
        user, chosen = Accounts(app.database, app.clock).add_user(email, password, admin=admin)
    click.echo(f"created {user.email}")
    if not ask:
        click.echo(f"one-time password (shown once, to be replaced at first sign-in): {chosen}")


@users.command("list")
def users_list() -> None:
    """List the accounts: email, role, state and last sign-in."""
    from scheduler.services.accounts import Accounts

    with opened() as app:
        accounts = Accounts(app.database, app.clock).list_users()
    click.echo("email\trole\tstate\tlast sign-in")
    for account in accounts:
        state = (
            "disabled"
            if account.disabled
            else "must change password"
            if account.must_change_password
            else "active"
        )
        last = _when(account.last_login_at) if account.last_login_at else "never"
        click.echo(f"{account.email}\t{'admin' if account.is_admin else 'staff'}\t{state}\t{last}")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable an account: it cannot sign in and its open sessions end at once."""
    from scheduler.services.accounts import Accounts

    with opened() as app:
        Accounts(app.database, app.clock).set_disabled(email, True)
    click.echo(f"disabled {email.strip().lower()}")


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled account sign in again."""
    from scheduler.services.accounts import Accounts

    with opened() as app:
        Accounts(app.database, app.clock).set_disabled(email, False)
    click.echo(f"enabled {email.strip().lower()}")


@users.command("passwd")
@click.argument("email")
@click.option("--prompt", "ask", is_flag=True, help="Type the new password instead of generating one.")
def users_passwd(email: str, ask: bool) -> None:
    """Reset an account's password; its open sessions end. A generated password is printed once and
    must be replaced at the next sign-in."""
    from scheduler.services.accounts import Accounts

    password = click.prompt("New password", hide_input=True, confirmation_prompt=True) if ask else None
    with opened() as app:
        chosen = Accounts(app.database, app.clock).set_password(email, password)
    click.echo(f"password reset for {email.strip().lower()}")
    if not ask:
        click.echo(f"one-time password (shown once, to be replaced at next sign-in): {chosen}")


@cli.group()
def tokens() -> None:
    """Manage bearer tokens for the JSON API."""


@tokens.command("add")
@click.argument("name")
def tokens_add(name: str) -> None:
    """Create an API token called NAME and print it once; only its hash is kept."""
    from scheduler.services.api_tokens import ApiTokens

    with opened() as app:
        token = ApiTokens(app.database, app.clock).add(name)
    click.echo(f"token for {name.strip()} (shown once): {token}")


@tokens.command("list")
def tokens_list() -> None:
    """List the tokens by name, with when each was created, last used and revoked."""
    from scheduler.services.api_tokens import ApiTokens

    with opened() as app:
        found = ApiTokens(app.database, app.clock).list()

    click.echo("name\tcreated\tlast used\trevoked")
    for token in found:
        click.echo(
            "\t".join(
                (token.name, _when(token.created_at), _when(token.last_used_at), _when(token.revoked_at))
            )
        )


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke the token called NAME: requests carrying it are refused from now on."""
    from scheduler.services.api_tokens import ApiTokens

    with opened() as app:
        ApiTokens(app.database, app.clock).revoke(name)
    click.echo(f"revoked {name.strip()}")
