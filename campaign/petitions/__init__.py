"""Petitions: their texts, categories and lifecycle. Their public pages compose the domains
above this one, so they live in campaign/site/."""


def init_app(app) -> None:
    """Register the domain's models, commands and emails (create_app calls each domain's)."""
    from campaign.mail.outbox import register_senders
    from campaign.petitions import commands, emails, models, sharing  # noqa: F401

    app.cli.add_command(commands.petitions)
    # The share panel (templates/petitions/_share.html) is on the petition page, the "check
    # your inbox" page and the confirmation page.
    app.jinja_env.globals["share_links"] = sharing.share_links
    app.jinja_env.globals["petition_url"] = sharing.petition_url
    register_senders(emails.SENDERS)
