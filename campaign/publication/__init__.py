"""Publication: press exports, hash-chained snapshots of the public list, receipts, proofs."""


def init_app(app) -> None:
    """Register the domain's models, pages, commands and emails (create_app calls each
    domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.publication import commands, emails, jobs, models, views  # noqa: F401
    from campaign.signatures.events import confirmation_page, public_list_changed

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.publication)
    register_senders(emails.SENDERS)
    # Fresh downloads: a change to a public list schedules its publication (once per
    # process: blinker keeps one connection per receiver).
    public_list_changed.connect(jobs.on_public_list_changed, weak=False)
    confirmation_page.connect(views.confirmation_panel, weak=False)
