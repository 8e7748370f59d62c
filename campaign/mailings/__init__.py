"""Mail campaigns to officials, supporters\x27 letters to their representatives, updates."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.mailings import commands, emails, models, views  # noqa: F401
    from campaign.signatures.events import confirmation_page

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.mailings)
    register_senders(emails.SENDERS)
    confirmation_page.connect(views.confirmation_panel, weak=False)
