"""Trending alerts, and the block list of email domains: it refuses signatures on every
petition, so it belongs to the site's admins; an organiser narrows their own petition with
its allow-list instead."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from campaign.abuse import block_domain, blocked_domains, unblock_domain
from campaign.clock import utcnow
from campaign.petitions.services import petitions_visible_to
from campaign.signatures.rates import trending_sources
from campaign.web.forms import ActionForm, strip_text
from campaign.workspace.blueprint import bp, require_admin


class BlockDomainForm(FlaskForm):
    """Add an email domain to the block list."""

    domain = StringField(
        _l("Domain"),
        filters=[strip_text],
        validators=[DataRequired(_l("Enter a domain name, such as example.org.")),
                    Length(max=253)],
    )  # fmt: skip
    reason = StringField(
        _l("Reason (optional)"), filters=[strip_text], validators=[Length(max=200)]
    )


@bp.get("/alerts")
def trending_alerts():
    petitions = {petition.id: petition for petition in petitions_visible_to(current_user)}
    alerts = trending_sources(list(petitions), utcnow())
    return render_template("workspace/alerts.html", alerts=alerts, petitions=petitions)


@bp.route("/blocked-domains", methods=["GET", "POST"])
def blocked_domain_list():
    require_admin()
    form = BlockDomainForm()
    if form.validate_on_submit():
        try:
            block_domain(form.domain.data, form.reason.data or "", current_user, utcnow())
        except ValueError:
            form.domain.errors.append(_("Enter a domain name, such as example.org."))
        else:
            flash(
                _("Addresses at %(domain)s can no longer sign.", domain=form.domain.data), "success"
            )
            return redirect(url_for("workspace.blocked_domain_list"), code=303)
    status = 422 if form.errors else 200
    page = render_template(
        "workspace/blocked_domains.html", form=form, domains=blocked_domains(), remove=ActionForm()
    )
    return page, status


@bp.post("/blocked-domains/<domain>/remove")
def unblock(domain: str):
    require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    if unblock_domain(domain, current_user, utcnow()):
        flash(_("Addresses at %(domain)s may sign again.", domain=domain), "success")
    return redirect(url_for("workspace.blocked_domain_list"), code=303)
