"""Petitions: their texts, categories and lifecycle."""


def init_app(app) -> None:
    """Register the domain's models, pages and emails (create_app calls each domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.petitions import emails, models, views  # noqa: F401

    app.register_blueprint(views.bp)
    register_senders(emails.SENDERS)
