"""Workspace pages of a petition's mailings, for its managers: the list, compose (templates
with merge fields, recipients, pace, time), preview, a test to oneself, start, live
progress with pause, resume and cancel, and the failures with their retry."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS, REGIONS
from campaign.extensions import db
from campaign.mailings import services as mailing_services
from campaign.mailings.forms import (
    KIND_LABELS,
    MailingActionForm,
    MailingForm,
    NewMailingForm,
    RecipientCountForm,
    StartForm,
)
from campaign.mailings.merge_fields import site_name
from campaign.mailings.models import EDITABLE, Mailing, MailingKind, MailingStatus
from campaign.mailings.recipients import (
    RecipientCount,
    active_authorities,
    count_recipients,
    departement_search_words,
    people_chambers,
    pickable_ids,
)
from campaign.mailings.services import (
    CountNotConfirmed,
    MailingFields,
    MailingNotEditable,
    NoRecipients,
    RecipientsChanged,
    ReplyToNotConfirmed,
)
from campaign.mailings.templates import MERGE_FIELDS, ProblemKind, TemplateProblem
from campaign.officials.models import OfficialKind
from campaign.petitions.models import Petition
from campaign.workspace.blueprint import bp, managed_petition

STATUS_LABELS = {
    MailingStatus.DRAFT: _l("Draft"),
    MailingStatus.SCHEDULED: _l("Scheduled"),
    MailingStatus.SENDING: _l("Sending"),
    MailingStatus.PAUSED: _l("Paused"),
    MailingStatus.DONE: _l("Finished"),
    MailingStatus.CANCELLED: _l("Cancelled"),
}
DELIVERY_STATUS_LABELS = {"failed": _l("Failed"), "unknown": _l("Outcome unknown")}
# What each merge field of templates.MERGE_FIELDS holds, and how to write it.
MERGE_FIELD_HELP = {
    "official.name": _l(
        "The official’s first and last name; an authority’s head, or the authority’s own "
        "name when the directory names no head"
    ),
    "official.salutation": _l(
        "The opening, in the petition’s language: Madame la députée, Monsieur le sénateur; "
        "Madame, Monsieur where the directory does not give the civility; Madame la "
        "Présidente or Madame, Monsieur for an authority"
    ),
    "official.civility": _l("Madame or Monsieur (empty where the directory does not say)"),
    "official.first_name": _l("The official’s first name"),
    "official.last_name": _l("The official’s last name"),
    "official.role": _l(
        "Their role, in the petition’s language and, in French, their gender (Sénatrice…)"
    ),
    "official.chamber": _l("Their chamber or institution"),
    "official.departement": _l("Their département’s code"),
    "official.constituency": _l("Their constituency"),
    "petition.title": _l("The petition’s title"),
    "petition.url": _l("The link to the petition"),
    "petition.confirmed": _l("The number of confirmed signatures"),
    "petition.goal": _l("The petition’s goal"),
    "categories": _l("The counts per category, to loop over; each has .label and .count"),
    "counts.<category>": _l("The confirmed signatures of one category, by its key"),
    "publication.url": _l("The link to the latest publication of the list"),
    "publication.sha256": _l("The SHA-256 fingerprint of that publication"),
    "publication.sequence": _l("Its number"),
    "publication.count": _l("The number of names it lists"),
    "signatory.first_name": _l("The signatory’s first name"),
    "signatory.last_name": _l("The signatory’s last name"),
}
CATEGORIES_EXAMPLE = (
    "{% for category in categories %}{{ category.label }}: {{ category.count }}\n{% endfor %}"
)


def _locale() -> str:
    return str(get_locale())


def _mailing(petition: Petition, mailing_id: int) -> Mailing:
    """The petition's mailing; 404 for another petition's."""
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None or mailing.petition_id != petition.id:
        abort(404)
    return mailing


def _acted_on(slug: str, mailing_id: int) -> tuple[Petition, Mailing]:
    """The petition and the mailing a button is about, once the CSRF token is checked."""
    petition = managed_petition(slug)
    mailing = _mailing(petition, mailing_id)
    if not MailingActionForm().validate_on_submit():
        abort(400)
    return petition, mailing


def _editable(mailing: Mailing) -> bool:
    # A supporters' template stays editable while supporters write with it.
    return mailing.status in EDITABLE or mailing.kind == MailingKind.REPRESENTATIVES


def _page_of(mailing: Mailing) -> str:
    endpoint = "workspace.edit_mailing" if _editable(mailing) else "workspace.mailing"
    return url_for(endpoint, slug=request.view_args["slug"], mailing_id=mailing.id)


def problem_message(problem: TemplateProblem) -> str:
    """A template error in the organiser's language: which part, what is wrong, what to do."""
    if problem.part == "subject":
        return _("The subject cannot be written out: %(detail)s", detail=problem.message())
    return _("The text cannot be written out: %(detail)s", detail=problem.message())


def empty_field_messages(mailing: Mailing) -> list[str]:
    """The merge fields that are empty for some recipients, with how many, as warnings."""
    return [
        ngettext(
            "%(field)s is empty for %(num)d recipient out of %(total)d: "
            "the letter will have a blank there.",
            "%(field)s is empty for %(num)d recipients out of %(total)d: "
            "the letter will have a blank there.",
            empty.empty,
            field=f"{{{{ {empty.field} }}}}",
            total=empty.total,
        )
        for empty in mailing_services.empty_fields(mailing)
    ]


def _template_problem(mailing: Mailing) -> TemplateProblem | None:
    try:
        mailing_services.check_templates(mailing)
    except TemplateProblem as problem:
        return problem
    return None


def _merge_fields(kind: MailingKind) -> list[tuple[str, str]]:
    """The merge fields of this kind of mailing, written as a template uses them."""
    hidden = "official." if kind == MailingKind.UPDATE else "signatory."
    rows = []
    for name in MERGE_FIELDS:
        if name.startswith(hidden):
            continue
        usage = CATEGORIES_EXAMPLE if name == "categories" else f"{{{{ {name} }}}}"
        rows.append((usage, MERGE_FIELD_HELP.get(name, "")))
    return rows


def _compose_form(mailing: Mailing, saved: bool = False) -> MailingForm:
    letter = mailing.kind == MailingKind.LETTER
    return MailingForm.for_mailing(
        mailing,
        people_chambers() if letter else [],
        mailing_services.active_officials() if letter else [],
        active_authorities() if letter else [],
        saved=saved,
    )


def count_message(count: RecipientCount) -> dict[str, str]:
    """The picker's live count in words: how many recipients, and who is skipped."""
    skipped = ", ".join(official.recipient_name for official in count.skipped)
    return {
        "message": ngettext(
            "With this selection, the letter goes to %(count)s recipient.",
            "With this selection, the letter goes to %(count)s recipients.",
            count.count,
            count=format_decimal(count.count),
        ),
        "skipped_message": ngettext(
            "%(num)d address bounces and is skipped: %(names)s.",
            "%(num)d addresses bounce and are skipped: %(names)s.",
            len(count.skipped),
            names=skipped,
        )
        if count.skipped
        else "",
    }


def _picker(form: MailingForm) -> dict:
    """What the recipients' picker shows besides the form: the count of the selection as
    it stands on the page, the régions, and the words each département is found by."""
    if "roles" not in form:
        return {}
    count = count_recipients(form.selection())
    return {
        "regions": REGIONS,
        "found_departements": form.found_departements(),
        "search_words": {code: departement_search_words(code) for code in DEPARTEMENTS},
        "live_count": count,
        "live_count_text": count_message(count),
    }


def _render_compose(
    petition: Petition,
    mailing: Mailing,
    form: MailingForm,
    status: int = 200,
    problem: TemplateProblem | None = None,
    **page,
):
    if problem is not None:
        form.show_problem(problem.part, problem_message(problem))
    page = render_template(
        "workspace/mailings/compose.html",
        petition=petition,
        text=petition.text(_locale()),
        mailing=mailing,
        form=form,
        problem=problem_message(problem) if problem else None,
        publish_first=problem is not None and problem.kind == ProblemKind.NOT_PUBLISHED,
        empty_fields=empty_field_messages(mailing),
        recipients=mailing_services.recipient_count(mailing),
        merge_fields=_merge_fields(mailing.kind),
        kind_labels=KIND_LABELS,
        action_form=MailingActionForm(),
        shown_officials=form.shown_official_ids(),
        reply_state=mailing_services.reply_address_state(mailing),
        site_name=site_name(),
        **_picker(form),
        **page,
    )
    return page, status


def _render_list(petition: Petition, form: NewMailingForm, status: int = 200):
    now = utcnow()
    rows = [
        (mailing, mailing_services.mailing_progress(mailing, now))
        for mailing in mailing_services.mailings_of(petition.id)
    ]
    page = render_template(
        "workspace/mailings/list.html",
        petition=petition,
        text=petition.text(_locale()),
        rows=rows,
        form=form,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
    )
    return page, status


@bp.get("/p/<slug>/mailings")
def mailings(slug: str):
    return _render_list(managed_petition(slug), NewMailingForm())


@bp.post("/p/<slug>/mailings/new")
def new_mailing(slug: str):
    petition = managed_petition(slug)
    form = NewMailingForm()
    if not form.validate_on_submit():
        return _render_list(petition, form, 422)
    mailing = mailing_services.create_mailing(
        petition,
        MailingKind(form.kind.data),
        MailingFields(name=form.name.data or ""),
        current_user,
        utcnow(),
    )
    flash(_("Draft created: write the letter, choose the recipients, then send."), "success")
    return redirect(url_for("workspace.edit_mailing", slug=slug, mailing_id=mailing.id), code=303)


@bp.get("/p/<slug>/mailings/<int:mailing_id>")
def mailing(slug: str, mailing_id: int):
    petition = managed_petition(slug)
    mailing = _mailing(petition, mailing_id)
    if mailing.status == MailingStatus.DRAFT:
        return redirect(url_for("workspace.edit_mailing", slug=slug, mailing_id=mailing_id))
    return render_template(
        "workspace/mailings/progress.html",
        petition=petition,
        text=petition.text(_locale()),
        mailing=mailing,
        progress=mailing_services.mailing_progress(mailing, utcnow()),
        failures=mailing_services.failed_deliveries(mailing.id),
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        delivery_status_labels=DELIVERY_STATUS_LABELS,
        action_form=MailingActionForm(),
        editable=_editable(mailing),
    )


@bp.get("/p/<slug>/mailings/<int:mailing_id>/progress.json")
def mailing_progress(slug: str, mailing_id: int):
    mailing = _mailing(managed_petition(slug), mailing_id)
    response = jsonify(mailing_services.mailing_progress(mailing, utcnow()).as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/p/<slug>/mailings/<int:mailing_id>/recipients.json")
def count_mailing_recipients(slug: str, mailing_id: int):
    """The number of recipients of the selection in the query string, for the picker's
    live count: a GET that reads and changes nothing (no CSRF token needed), for the
    petition's managers only, never cached."""
    mailing = _mailing(managed_petition(slug), mailing_id)
    if mailing.kind != MailingKind.LETTER:
        abort(404)
    ids = pickable_ids()
    form = RecipientCountForm(request.args).accept_values(
        people_chambers(), ids[OfficialKind.PERSON], ids[OfficialKind.AUTHORITY]
    )
    if not form.validate():
        response = jsonify(error=_("This selection cannot be read: reload the page."))
        response.status_code = 400
    else:
        count = count_recipients(form.selection())
        response = jsonify(count.as_json() | count_message(count))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/p/<slug>/mailings/<int:mailing_id>/edit", methods=["GET", "POST"])
def edit_mailing(slug: str, mailing_id: int):
    petition = managed_petition(slug)
    mailing = _mailing(petition, mailing_id)
    if not _editable(mailing):
        flash(_("This mailing has left the draft stage: it can no longer be changed."), "error")
        return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)
    form = _compose_form(mailing)
    if form.searching():
        return _render_compose(petition, mailing, form)
    if not form.is_submitted():
        # A new draft's empty templates are not an error yet.
        written = bool(mailing.subject_template or mailing.body_template)
        return _render_compose(
            petition, mailing, form, problem=_template_problem(mailing) if written else None
        )
    if not form.validate_on_submit():
        return _render_compose(petition, mailing, form, 422)
    try:
        mailing_services.update_mailing(mailing, form.fields(mailing), utcnow(), current_user)
    except MailingNotEditable:
        flash(_("This mailing has left the draft stage: it can no longer be changed."), "error")
        return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)
    problem = _template_problem(mailing)
    if problem is not None:
        return _render_compose(petition, mailing, form, problem=problem, saved=True)
    flash(_("Draft saved."), "success")
    return redirect(url_for("workspace.edit_mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.get("/p/<slug>/mailings/<int:mailing_id>/preview")
def preview_mailing(slug: str, mailing_id: int):
    petition = managed_petition(slug)
    mailing = _mailing(petition, mailing_id)
    chosen = request.args.get("official", type=int)
    try:
        recipient, letter = mailing_services.sample_letter(mailing, chosen)
    except TemplateProblem as problem:
        recipient, letter, error = None, None, problem
    else:
        error = None
    officials = (
        mailing_services.selected_officials(mailing.selection or {})
        if mailing.kind == MailingKind.LETTER
        else []
    )
    return render_template(
        "workspace/mailings/preview.html",
        petition=petition,
        text=petition.text(_locale()),
        mailing=mailing,
        officials=officials,
        chosen=chosen,
        recipient=recipient,
        letter=letter,
        problem=problem_message(error) if error else None,
        publish_first=error is not None and error.kind == ProblemKind.NOT_PUBLISHED,
        action_form=MailingActionForm(),
        back=_page_of(mailing),
    )


@bp.post("/p/<slug>/mailings/<int:mailing_id>/test")
def test_mailing(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    try:
        mailing_services.send_test_letter(mailing, current_user, utcnow())
    except TemplateProblem as problem:
        flash(problem_message(problem), "error")
    else:
        flash(_("A test is on its way to %(email)s.", email=current_user.email), "success")
    return redirect(_page_of(mailing), code=303)


def _render_confirmation(
    petition: Petition, mailing: Mailing, form: StartForm, status: int = 200, changed=False
):
    """The second step of "Send": how many recipients, the first few, and the button (with
    the number to type for a large mailing)."""
    recipients = mailing_services.recipient_set(mailing)
    form.recipients_digest.data = recipients.digest
    page = render_template(
        "workspace/mailings/confirm.html",
        petition=petition,
        text=petition.text(_locale()),
        mailing=mailing,
        form=form,
        recipients=recipients,
        typing_required=mailing_services.typing_required(recipients.count),
        changed=changed,
        back=_page_of(mailing),
    )
    return page, status


@bp.post("/p/<slug>/mailings/<int:mailing_id>/start")
def start_mailing(slug: str, mailing_id: int):
    petition, mailing = _acted_on(slug, mailing_id)
    form = StartForm()
    asks_confirmation = mailing.kind != MailingKind.REPRESENTATIVES
    try:
        if asks_confirmation and not form.confirming():
            if mailing.status not in EDITABLE:
                started = False
            else:
                mailing_services.check_before_start(mailing)
                return _render_confirmation(petition, mailing, form)
        else:
            started = mailing_services.start_mailing(
                mailing.id,
                current_user,
                utcnow(),
                confirmed=form.recipients_digest.data if asks_confirmation else None,
                typed_count=form.typed_count.data,
            )
    except TemplateProblem as problem:
        form = _compose_form(mailing, saved=True)
        return _render_compose(petition, mailing, form, 422, problem=problem)
    except NoRecipients:
        form = _compose_form(mailing, saved=True)
        return _render_compose(petition, mailing, form, 422, no_recipients=True)
    except ReplyToNotConfirmed:
        form = _compose_form(mailing, saved=True)
        return _render_compose(petition, mailing, form, 422, reply_to_pending=True)
    except RecipientsChanged:
        return _render_confirmation(petition, mailing, StartForm(formdata=None), 409, changed=True)
    except CountNotConfirmed:
        form.typed_count.errors = [
            _("Type the number of recipients shown, in figures, to confirm the sending.")
        ]
        return _render_confirmation(petition, mailing, form, 422)
    if not started:
        flash(_("This mailing had already started: it was not started a second time."), "info")
    elif mailing.status == MailingStatus.SCHEDULED:
        when = format_datetime(mailing.send_at, "short")
        flash(_("Scheduled: the sending starts on %(time)s.", time=when), "success")
    else:
        flash(_("Sending started."), "success")
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/pause")
def pause_mailing(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    if mailing_services.pause_mailing(mailing.id, current_user, utcnow()):
        flash(_("Paused: the messages being sent finish, no other leaves."), "success")
    else:
        flash(_("This mailing is not sending: there is nothing to pause."), "error")
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/resume")
def resume_mailing(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    if mailing_services.resume_mailing(mailing.id, current_user, utcnow()):
        flash(_("Sending resumed where it stopped."), "success")
    else:
        flash(_("This mailing is not paused: there is nothing to resume."), "error")
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/cancel")
def cancel_mailing(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    if mailing_services.cancel_mailing(mailing.id, current_user, utcnow()):
        flash(_("Cancelled: what had not left will not be sent."), "success")
    else:
        flash(_("This mailing is finished: it can no longer be cancelled."), "error")
    return redirect(url_for("workspace.mailings", slug=slug), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/failures/retry")
def retry_failed_deliveries(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    count = mailing_services.retry_failed(mailing.id, current_user, utcnow())
    flash(
        ngettext(
            "%(num)d failed message is queued again.",
            "%(num)d failed messages are queued again.",
            count,
        )
        if count
        else _("No failed message to send again."),
        "success" if count else "info",
    )
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/failures/resend-unknown")
def resend_unknown_deliveries(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    count = mailing_services.resend_unknown(mailing.id, current_user, utcnow())
    flash(
        ngettext(
            "%(num)d message of unknown outcome is queued again.",
            "%(num)d messages of unknown outcome are queued again.",
            count,
        ),
        "success" if count else "info",
    )
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)


@bp.post("/p/<slug>/mailings/<int:mailing_id>/failures/mark-unknown-sent")
def mark_unknown_deliveries_sent(slug: str, mailing_id: int):
    _petition, mailing = _acted_on(slug, mailing_id)
    count = mailing_services.mark_unknown_sent(mailing.id, current_user, utcnow())
    flash(
        ngettext(
            "%(num)d message of unknown outcome is counted as sent.",
            "%(num)d messages of unknown outcome are counted as sent.",
            count,
        ),
        "success" if count else "info",
    )
    return redirect(url_for("workspace.mailing", slug=slug, mailing_id=mailing_id), code=303)
