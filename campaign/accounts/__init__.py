"""Organiser accounts: users, roles, login, second factor."""


def init_app(app) -> None:
    """Register the domain's pages and commands (create_app calls each domain's)."""
    from campaign.accounts import commands, models, views  # noqa: F401

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.users)
