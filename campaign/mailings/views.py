"""Public pages of mailings: a supporter writing to their representatives, and the one-click
unsubscribe of updates (RFC 8058)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import ValidationError

from campaign.abuse import proof_is_valid
from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS
from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import csrf, limiter
from campaign.mailings.letters import (
    LetterDraft,
    LetterRefused,
    already_written,
    draft_letter,
    open_letter_mailing,
    write_to_representatives,
)
from campaign.mailings.models import Official
from campaign.mailings.services import role_label, text_digest
from campaign.mailings.subscriptions import unsubscribe_signatory
from campaign.petitions.forms import CheckboxesField
from campaign.petitions.models import Petition
from campaign.petitions.services import find_petition, find_public_petition
from campaign.signatures.forms import ActionForm
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import find_signature
from campaign.tokens import read_token

bp = Blueprint("mailings", __name__)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class LetterForm(FlaskForm):
    """A supporter's letter. The service checks the letter itself (a one-line subject,
    lengths, officials of the département) and says what is wrong."""

    departement = SelectField(_l("Your département"), default="", validate_choice=False)
    officials = CheckboxesField(_l("Write to"), validate_choice=False)
    subject = StringField(_l("Subject"), filters=[_strip])
    body = TextAreaField(_l("Your letter"))
    # Digest of the text as prefilled: an untouched text follows a change of département.
    draft_digest = HiddenField()
    altcha = HiddenField()
    show = SubmitField(_l("Show my representatives"))
    send = SubmitField(_l("Send my letter"))

    def offer_choices(self, officials: list[Official], locale: str) -> LetterForm:
        """The départements, and the officials of the one chosen."""
        self.departement.choices = [("", "—")] + [
            (code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
        ]
        self.officials.choices = [
            (str(official.id), f"{official.full_name} ({role_label(official.role, locale)})")
            for official in officials
        ]
        return self

    def chosen_departement(self) -> str:
        """The département asked for, if it is one."""
        value = self.departement.data or ""
        return value if value in DEPARTEMENTS else ""

    def official_ids(self) -> list[int]:
        """The ticked officials' ids; anything else is dropped."""
        return [int(value) for value in self.officials.data or [] if str(value).isdigit()]

    def fill(self, draft: LetterDraft, written: set[int], keep_text: bool) -> None:
        """Tick the officials not yet written to and, unless the supporter changed the
        text, put the organiser's template in."""
        self.officials.data = [
            str(official.id) for official in draft.officials if official.id not in written
        ]
        if keep_text and self._text_changed():
            return
        self.subject.data, self.body.data = draft.subject, draft.body
        self.draft_digest.data = text_digest(f"{draft.subject}\n{draft.body}")

    def _text_changed(self) -> bool:
        typed = f"{self.subject.data or ''}\n{self.body.data or ''}"
        return bool(typed.strip()) and text_digest(typed) != self.draft_digest.data

    def validate_altcha(self, field: HiddenField) -> None:
        if not proof_is_valid(field.data, utcnow()):
            raise ValidationError(
                _l(
                    "The anti-robot check did not complete. Wait until it shows it is done "
                    "(it needs JavaScript), then send again."
                )
            )


def _write_limit() -> str:
    return current_app.config["RATELIMIT_WRITE"]


@bp.after_request
def never_cached(response: Response) -> Response:
    """These pages are reached through personal links: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(TokenInvalid)
def invalid_link(_error: TokenInvalid):
    return render_template("mailings/invalid_link.html", expired=False), 404


@bp.errorhandler(TokenExpired)
def expired_link(_error: TokenExpired):
    return render_template("mailings/invalid_link.html", expired=True), 410


def _supporter(slug: str, token: str) -> tuple[Signature, Petition]:
    """The signatory a write link is about, on this petition. Raises TokenInvalid."""
    max_age = current_app.config["WRITE_LINK_MAX_AGE"]
    signature = find_signature(read_token("write", token, utcnow(), max_age))
    petition = find_public_petition(slug)
    if signature is None or petition is None or signature.petition_id != petition.id:
        raise TokenInvalid("write")
    return signature, petition


# --- Writing to one's representatives -------------------------------------------------------


@bp.route("/p/<slug>/write/<token>", methods=["GET", "POST"])
@limiter.limit(_write_limit, methods=["POST"])
def write(slug: str, token: str):
    signature, petition = _supporter(slug, token)
    locale = str(get_locale())
    mailing = open_letter_mailing(petition.id)
    if mailing is None or signature.status != SignatureStatus.CONFIRMED:
        page = render_template(
            "mailings/write_closed.html", petition=petition, text=petition.text(locale)
        )
        return page, 410
    form = LetterForm(departement=signature.departement or "")
    draft = draft_letter(mailing, form.chosen_departement())
    form.offer_choices(draft.officials, locale)
    written = already_written(signature.id, mailing.id)
    problem, status = None, 200
    if not form.send.data:
        # A first visit, or "show my representatives" after changing the département.
        form.fill(draft, written, keep_text=form.is_submitted())
    elif not form.validate_on_submit():
        status = 422
    else:
        try:
            outcome = write_to_representatives(
                signature.id,
                mailing.id,
                form.chosen_departement(),
                form.official_ids(),
                form.subject.data or "",
                form.body.data or "",
                utcnow(),
            )
        except LetterRefused as refusal:
            if refusal.field in form:
                form[refusal.field].errors = [*form[refusal.field].errors, refusal.message]
            else:
                problem = refusal.message
            status = 422
        else:
            return render_template(
                "mailings/written.html",
                petition=petition,
                text=petition.text(locale),
                outcome=outcome,
            )
    page = render_template(
        "mailings/write.html",
        petition=petition,
        text=petition.text(locale),
        form=form,
        officials=draft.officials,
        written=written,
        problem=problem,
    )
    return page, status


# --- Unsubscribing from updates ----------------------------------------------------------


def _subscriber(token: str) -> tuple[Signature, Petition]:
    """The signatory an unsubscribe link is about. Raises TokenInvalid or TokenExpired."""
    max_age = current_app.config["UNSUBSCRIBE_LINK_MAX_AGE"]
    signature = find_signature(read_token("unsubscribe", token, utcnow(), max_age))
    if signature is None:
        raise TokenInvalid("unsubscribe")
    return signature, find_petition(signature.petition_id)


@bp.get("/u/<token>")
def unsubscribe(token: str):
    # A GET changes nothing: mail scanners open links.
    signature, petition = _subscriber(token)
    return render_template(
        "mailings/unsubscribe.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        subscribed=signature.contact_ok,
        form=ActionForm(),
    )


# The mail provider's one-click POST carries no CSRF token and no cookie: the signed token
# in the URL is the authentication (RFC 8058), so this one view is exempt.
@csrf.exempt
@bp.post("/u/<token>")
def unsubscribe_now(token: str):
    signature, petition = _subscriber(token)
    unsubscribe_signatory(signature.id, utcnow())
    return render_template(
        "mailings/unsubscribed.html", petition=petition, text=petition.text(str(get_locale()))
    )
