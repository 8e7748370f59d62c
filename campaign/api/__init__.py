"""Read-only JSON API."""


def init_app(app) -> None:
    """Register the JSON API: read-only, without cookies, so exempt from CSRF."""
    from campaign.api import views
    from campaign.extensions import csrf

    app.register_blueprint(views.bp)
    csrf.exempt(views.bp)
