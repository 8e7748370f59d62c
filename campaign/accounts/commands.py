"""`flask users create EMAIL --role ROLE [--password-stdin]`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaign.accounts.models import Role
from campaign.accounts.services import AccountError, create_user
from campaign.clock import utcnow

users = AppGroup("users", help="Workspace accounts.")


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account; prompts for its password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, role, password, utcnow())
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"created {user.role} {user.email}")
