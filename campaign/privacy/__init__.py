"""Privacy by design: the signer's rights by emailed link, retention. The consent records
themselves are taken with the signature (campaign/signatures/consent.py)."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.privacy import commands, emails, services, views
    from campaign.signatures.events import signature_erased

    app.register_blueprint(views.bp)
    signature_erased.connect(services.delete_signers_mail_files, weak=False)
    app.cli.add_command(commands.privacy)
    register_senders(emails.SENDERS)
