"""Commands that manage staff accounts and API tokens."""

from __future__ import annotations

import click

from scheduler.cli.base import cli, opened


@cli.group()
def users() -> None:
    """Manage staff accounts for the admin web app."""


@users.command("add")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.option("--prompt", "ask", is_flag=True, help="Type the password instead of generating one.")
def users_add(email: str, admin: bool, ask: bool) -> None:
    """Create a staff account; prints a generated password once (or asks for one with --prompt)."""
    from scheduler.services.accounts import Accounts

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if ask else None
    with opened() as app:
        user, chosen = Accounts(app.database, app.clock).add_user(email, password, admin=admin)
    click.echo(f"created {user.email}")
    if not ask:
        click.echo(f"password (shown once): {chosen}")


@cli.group()
def tokens() -> None:
    """Manage bearer tokens for the JSON API."""


@tokens.command("add")
@click.argument("name")
def tokens_add(name: str) -> None:
    """Create an API token called NAME and print it once; only its hash is kept."""
    from scheduler.services.accounts import Accounts

    with opened() as app:
        token = Accounts(app.database, app.clock).add_token(name)
    click.echo(f"token for {name.strip()} (shown once): {token}")
