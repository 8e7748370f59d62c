"""Objection letters: supporters exercise their own data-protection rights (object to the
use of their data by an institution, then complain to the authority), helped by Tribune,
which prepares the letter and keeps no content of it."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and email (create_app calls each domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.objections import commands, emails, models, views  # noqa: F401
    from campaign.objections.services import on_signature_withdrawn
    from campaign.signatures.events import withdrawn

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.institutions)
    app.cli.add_command(commands.objections)
    register_senders(emails.SENDERS)
    # Every withdrawal erases the letters' timeline in its own transaction (once per
    # process: blinker keeps one connection per receiver).
    withdrawn.connect(on_signature_withdrawn, weak=False)
