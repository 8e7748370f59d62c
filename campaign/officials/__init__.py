"""The officials directory: who mailings write to, imported from CSV files."""


def init_app(app) -> None:
    """Register the domain's models and commands (create_app calls each domain's); its
    workspace pages are in campaign/workspace/officials.py."""
    from campaign.officials import commands, models  # noqa: F401

    app.cli.add_command(commands.officials)
