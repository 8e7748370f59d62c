"""Site-wide pages: home, privacy notice, language switch, development outbox."""


def init_app(app) -> None:
    """Register the site-wide pages."""
    from campaign.pages import views

    app.register_blueprint(views.bp)
