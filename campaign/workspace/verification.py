"""Verification in the workspace: the site's official domains of each category and the state
of the RPPS register (admins: they act on every petition), a petition's own official domains
(its organisers: they act on that petition alone), and the moderators' queue of signatures
claiming a verified category, with their decisions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from campaign.clock import utcnow
from campaign.petitions.services import shared_categories
from campaign.verification.forms import DomainRuleForm, ReviewForm
from campaign.verification.models import ReviewDecision
from campaign.verification.registries import active_register
from campaign.verification.services import (
    DomainRuleInvalid,
    SignatureNotInPetition,
    add_domain_rule,
    decide_verification,
    domain_rules,
    petition_domain_rules,
    remove_domain_rule,
    review_item,
    verification_queue,
)
from campaign.web.forms import ActionForm
from campaign.workspace.blueprint import bp, managed_petition, moderated_petition, require_admin


@bp.route("/verification", methods=["GET", "POST"])
def verification_settings():
    require_admin()
    locale = str(get_locale())
    categories = shared_categories()
    form = DomainRuleForm().offer_choices(categories, locale)
    if form.validate_on_submit():
        try:
            rule = add_domain_rule(form.category.data, form.pattern.data, current_user, utcnow())
        except DomainRuleInvalid:
            form.pattern.errors.append(_("Enter a domain such as senat.fr."))
        else:
            message = _("Addresses at %(pattern)s now verify this category.", pattern=rule.pattern)
            flash(message, "success")
            return redirect(url_for("workspace.verification_settings"), code=303)
    page = render_template(
        "workspace/verification/settings.html",
        form=form,
        rules=domain_rules(),
        labels={category.key: category.label(locale) for category in categories},
        register=active_register(),
        remove=ActionForm(),
    )
    return page, 422 if form.errors else 200


@bp.post("/verification/rules/<int:rule_id>/remove")
def remove_verification_rule(rule_id: int):
    require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    if remove_domain_rule(rule_id, current_user, utcnow()):
        flash(_("The rule is removed; the signatures it verified are assessed again."), "success")
    return redirect(url_for("workspace.verification_settings"), code=303)


@bp.route("/p/<slug>/verification/domains", methods=["GET", "POST"])
def petition_verification_rules(slug: str):
    petition = managed_petition(slug)
    locale = str(get_locale())
    form = DomainRuleForm().offer_choices(petition.categories, locale)
    if form.validate_on_submit():
        try:
            rule = add_domain_rule(
                form.category.data, form.pattern.data, current_user, utcnow(), petition
            )
        except DomainRuleInvalid:
            form.pattern.errors.append(_("Enter a domain such as senat.fr."))
        else:
            message = _(
                "Addresses at %(pattern)s now verify this category on this petition.",
                pattern=rule.pattern,
            )
            flash(message, "success")
            return redirect(url_for(".petition_verification_rules", slug=slug), code=303)
    page = render_template(
        "workspace/verification/petition_rules.html",
        petition=petition,
        text=petition.text(locale),
        form=form,
        rules=petition_domain_rules(petition.id),
        site_rules=domain_rules(),
        labels={category.key: category.label(locale) for category in shared_categories()},
        remove=ActionForm(),
    )
    return page, 422 if form.errors else 200


@bp.post("/p/<slug>/verification/domains/<int:rule_id>/remove")
def remove_petition_verification_rule(slug: str, rule_id: int):
    petition = managed_petition(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    if remove_domain_rule(rule_id, current_user, utcnow(), petition):
        flash(_("The rule is removed; the signatures it verified are assessed again."), "success")
    return redirect(url_for(".petition_verification_rules", slug=slug), code=303)


@bp.get("/p/<slug>/verification")
def moderation_verification_queue(slug: str):
    petition = moderated_petition(slug)
    locale = str(get_locale())
    return render_template(
        "workspace/verification/queue.html",
        petition=petition,
        text=petition.text(locale),
        queue=verification_queue(petition, page=request.args.get("page", 1, type=int)),
        category_labels={c.key: c.label(locale) for c in petition.categories},
    )


@bp.route("/p/<slug>/verification/<int:signature_id>", methods=["GET", "POST"])
def moderate_verification(slug: str, signature_id: int):
    petition = moderated_petition(slug)
    try:
        item = review_item(petition, signature_id)
    except SignatureNotInPetition:
        flash(_("This petition has no such signature: nothing changed."), "error")
        return redirect(url_for(".moderation_verification_queue", slug=slug), 303)
    form = ReviewForm()
    if form.validate_on_submit():
        decision = ReviewDecision(form.decision.data)
        reason = form.reason.data
        decide_verification(petition, signature_id, decision, reason, current_user, utcnow())
        if decision == ReviewDecision.APPROVED:
            flash(_("The signature is marked as checked by a moderator."), "success")
        else:
            flash(_("The signature is not shown as verified; its signer is told why."), "success")
        return redirect(url_for(".moderation_verification_queue", slug=slug), 303)
    locale = str(get_locale())
    page = render_template(
        "workspace/verification/review.html",
        petition=petition,
        item=item,
        form=form,
        category_labels={c.key: c.label(locale) for c in petition.categories},
    )
    return page, 422 if form.is_submitted() else 200
