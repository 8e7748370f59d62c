"""The public pages that compose several domains: the petition page (its counts, latest
signatories, letters sent and sign form), its card, QR codes and posters. It sits above
petitions, signatures, verification, mailings and publication, and reads them; none of them
imports it."""


def init_app(app) -> None:
    """Register the petition pages (blueprint "petitions": petitions.show...)."""
    from campaign.site import petition

    app.register_blueprint(petition.bp)
