"""Verified categories: domain rules, the RPPS register, the officials roster, the queue."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.signatures.events import (
        confirmation_page,
        confirmed,
        evidence_changed,
        signing,
        withdrawn,
    )
    from campaign.verification import commands, emails, models, services, views  # noqa: F401

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.registry)
    register_senders(emails.SENDERS)
    confirmation_page.connect(views.confirmation_panel, weak=False)
    # What signatures tell verification (signatures/events.py): signatures sit below.
    signing.connect(services.record_claim_at_signing, weak=False)
    confirmed.connect(services.assess_at_confirmation, weak=False)
    withdrawn.connect(services.erase_verification_data, weak=False)
    evidence_changed.connect(services.reassess_signature, weak=False)
