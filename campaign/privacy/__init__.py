"""Privacy by design: consent records, the signer's rights by emailed link, retention."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.privacy import commands, emails, models, views  # noqa: F401

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.privacy)
    register_senders(emails.SENDERS)
