"""Signatures: sign, confirm, withdraw, and the public list."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's). Confirmation emails are loaded in batches: the outbox sends a stream of them."""
    from campaign.mail.outbox import register_senders
    from campaign.petitions import commands as petitions_commands
    from campaign.signatures import commands, consent, counts, emails, embed, models, views  # noqa: F401

    app.register_blueprint(views.bp)
    app.register_blueprint(embed.bp)
    app.cli.add_command(commands.signatures)
    # `flask petitions recount`: the counts are the petition's, their upkeep is ours.
    petitions_commands.petitions.add_command(commands.recount)
    register_senders(emails.SENDERS, batch_loader=emails.load_signers)
