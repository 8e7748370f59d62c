"""The signatures of a petition in the workspace: the moderators' table with its counts,
hiding, invalidating and restoring one signature, and invalidating in bulk after a preview.

Filters may hold a signer's name, so they travel by POST and live in the session, never in
URLs; links carry only the page cursor (a timestamp and an id) and the chart's period."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, get_timezone, ngettext, to_utc
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from campaign.accounts.services import can_manage
from campaign.clock import utcnow
from campaign.petitions.models import Petition
from campaign.signatures import moderation
from campaign.signatures.models import SignatureStatus
from campaign.signatures.moderation import (
    CHART_PERIODS,
    IMPORTED,
    ONLINE,
    BulkCountChanged,
    BulkCriterion,
    BulkSelection,
    BulkTooLarge,
    Cursor,
    NoOriginRecorded,
    SignatureFilters,
    SignatureNotFound,
)
from campaign.web.forms import strip_text
from campaign.workspace.blueprint import bp, managed_petition, moderated_petition

STATUS_LABELS = {
    SignatureStatus.PENDING: _l("Pending"),
    SignatureStatus.SUSPECT: _l("Held for review"),
    SignatureStatus.CONFIRMED: _l("Confirmed"),
    SignatureStatus.HIDDEN: _l("Hidden"),
    SignatureStatus.INVALIDATED: _l("Invalidated"),
    SignatureStatus.WITHDRAWN: _l("Withdrawn"),
}
# The values are campaign.verification.models.VerificationLevel's.
VERIFICATION_LABELS = {
    "none": _l("Address not confirmed (imported)"),
    "email": _l("Email address confirmed"),
    "domain": _l("Address at an official domain"),
    "registry": _l("Name and number found in the RPPS register"),
    "roster": _l("Name and official address in the directory of members of parliament"),
    "moderator": _l("Checked by a moderator"),
    "attested": _l("First signatory, attested by the organisers"),
}
DOMAIN_PATTERN = re.compile(r"^[^\s@/]+\.[^\s@/.]{2,}$")
# What <input type="datetime-local"> sends (seconds when the step allows them).
DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _domain(value: str | None) -> str | None:
    return moderation.normalise_domain(value) if isinstance(value, str) else value


def _cursor(form: FlaskForm, field: HiddenField) -> None:
    if field.data:
        try:
            Cursor.decode(field.data)
        except ValueError as error:
            raise ValidationError(_l("This page link is not valid.")) from error


def _to_utc(value: datetime | None) -> datetime | None:
    """A local date-time typed in the workspace, as the naive UTC the database stores."""
    return to_utc(value) if value else None


# --- Forms -----------------------------------------------------------------------------------


class SignatureFilterForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip_text], validators=[Length(max=100)])
    organisation = StringField(
        _l("Organisation"), filters=[strip_text], validators=[Length(max=200)]
    )
    status = SelectField(
        _l("Status"),
        default="",
        choices=[SelectChoice("", _l("All statuses"))]
        + [SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
    )
    category = SelectField(_l("Category"), default="")
    source = SelectField(
        _l("Source"),
        default="",
        choices=[
            SelectChoice("", _l("All sources")),
            SelectChoice(ONLINE, _l("Signed online")),
            SelectChoice(IMPORTED, _l("Imported (any list)")),
        ],
    )
    imported_list = StringField(
        _l("Imported list (its name)"), filters=[strip_text], validators=[Length(max=100)]
    )
    verification = SelectField(
        _l("Verification"),
        default="",
        choices=[
            SelectChoice("", _l("Any")),
            *(SelectChoice(value, label) for value, label in VERIFICATION_LABELS.items()),
        ],
    )
    signed_from = DateField(_l("Signed from"), validators=[Optional()])
    signed_until = DateField(_l("Signed until (inclusive)"), validators=[Optional()])
    same_origin_as = IntegerField(validators=[Optional()])
    clear = SubmitField(_l("Clear the filters"))

    STORED = ("name", "organisation", "status", "category", "source", "imported_list",
              "verification", "signed_from", "signed_until", "same_origin_as")  # fmt: skip

    def offer_choices(self, petition: Petition, locale: str) -> SignatureFilterForm:
        """The petition's categories, in the reader's language."""
        self.category.choices = [SelectChoice("", _l("All categories"))] + [
            SelectChoice(category.key, category.label(locale)) for category in petition.categories
        ]
        return self

    def validate_signed_until(self, field: DateField) -> None:
        if field.data and self.signed_from.data and field.data < self.signed_from.data:
            raise ValidationError(_l("The end date comes before the start date."))

    def stored(self) -> dict[str, str]:
        """The submitted values worth keeping in the session, as typed."""
        raw = {name: (self[name].raw_data or [""])[0].strip() for name in self.STORED}
        return {name: value for name, value in raw.items() if value}

    def filters(self) -> SignatureFilters:
        """The validated values as the service's filters, dates as UTC bounds."""
        signed_from = self.signed_from.data
        signed_until = self.signed_until.data
        return SignatureFilters(
            name=self.name.data or "",
            organisation=self.organisation.data or "",
            status=SignatureStatus(self.status.data) if self.status.data else None,
            category=self.category.data or None,
            source=self.source.data or None,
            imported_list=self.imported_list.data or "",
            verification=self.verification.data or None,
            signed_from=_to_utc(datetime.combine(signed_from, time())) if signed_from else None,
            signed_before=(
                _to_utc(datetime.combine(signed_until + timedelta(days=1), time()))
                if signed_until
                else None
            ),
            same_origin_as=self.same_origin_as.data,
        )

    @property
    def active(self) -> bool:
        """Whether any filter narrows the table."""
        return bool(self.stored())


class TablePageForm(FlaskForm):
    """The query string of the table: which page, and the chart's period."""

    class Meta:
        csrf = False

    after = HiddenField(validators=[_cursor])
    days = IntegerField(default=CHART_PERIODS[0], validators=[Optional(), AnyOf(CHART_PERIODS)])

    def cursor(self) -> Cursor | None:
        return Cursor.decode(self.after.data) if self.after.data else None


class ModerationForm(FlaskForm):
    """Hide or restore: the button, and the page of the table to go back to."""

    after = HiddenField(validators=[_cursor])


class FirstSignatoryForm(ModerationForm):
    """Mark a signature as a first signatory, at a position among them (blank: by name)."""

    position = IntegerField(
        _l("Position among the first signatories (blank: by name)"),
        validators=[
            Optional(),
            NumberRange(
                min=1,
                max=moderation.FIRST_POSITION_MAX,
                message=_l("A number from %(min)d to %(max)d."),
            ),
        ],
    )


class InvalidationForm(ModerationForm):
    reason = TextAreaField(
        _l("Reason (kept with the signature, shown to organisers and moderators)"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Give the reason for invalidating.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
        ],
    )


class BulkSelectionForm(FlaskForm):
    criterion = RadioField(
        _l("Invalidate the signatures"),
        choices=[
            SelectChoice(BulkCriterion.EMAIL_DOMAIN.value, _l("of an email domain")),
            SelectChoice(
                BulkCriterion.ORIGIN.value, _l("from the same origin as a signature of the table")
            ),
            SelectChoice(BulkCriterion.TIME_WINDOW.value, _l("signed within a time window")),
        ],
        validators=[DataRequired(_l("Choose which signatures to invalidate."))],
    )
    email_domain = StringField(_l("Email domain"), filters=[_domain], validators=[Length(max=254)])
    origin_of = IntegerField(validators=[Optional()])
    signed_from = DateTimeLocalField(
        _l("Signed from"), format=DATETIME_LOCAL_FORMATS, validators=[Optional()]
    )
    signed_before = DateTimeLocalField(
        _l("Signed before"), format=DATETIME_LOCAL_FORMATS, validators=[Optional()]
    )

    SELECTION = ("criterion", "email_domain", "origin_of", "signed_from", "signed_before")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        required = {
            BulkCriterion.EMAIL_DOMAIN.value: self._check_domain,
            BulkCriterion.ORIGIN.value: self._check_origin,
            BulkCriterion.TIME_WINDOW.value: self._check_window,
        }
        check = required.get(self.criterion.data)
        return bool(check and check()) and self._check_order() and valid

    def _check_domain(self) -> bool:
        if not DOMAIN_PATTERN.match(self.email_domain.data or ""):
            self.email_domain.errors.append(_("Enter a domain such as example.org."))
            return False
        return True

    def _check_origin(self) -> bool:
        if self.origin_of.data is None:
            self.criterion.errors.append(
                _("Choose an origin in the “Same origin” column of the table first.")
            )
            return False
        return True

    def _check_window(self) -> bool:
        if self.signed_from.data is None or self.signed_before.data is None:
            for field in (self.signed_from, self.signed_before):
                if field.data is None and not field.errors:
                    field.errors.append(_("Enter a date and time."))
            return False
        return True

    def _check_order(self) -> bool:
        """A window, complete or not, may narrow any criterion; its end follows its start."""
        start, end = self.signed_from.data, self.signed_before.data
        if start and end and end <= start:
            self.signed_before.errors.append(_("The end comes before the start."))
            return False
        return True

    def selection(self) -> BulkSelection:
        """The validated criterion for the service, times as naive UTC."""
        return BulkSelection(
            criterion=BulkCriterion(self.criterion.data),
            email_domain=moderation.normalise_domain(self.email_domain.data or ""),
            origin_of=self.origin_of.data,
            signed_from=_to_utc(self.signed_from.data),
            signed_before=_to_utc(self.signed_before.data),
        )


class BulkConfirmationForm(BulkSelectionForm):
    expected = IntegerField(validators=[InputRequired()])
    reason = TextAreaField(
        _l("Reason (kept with each signature, shown to organisers and moderators)"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Give the reason for invalidating.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
        ],
    )

    def expect(self, count: int) -> BulkConfirmationForm:
        """Ask the moderator to confirm this number (the one they are shown)."""
        self.expected.raw_data = None
        self.expected.data = count
        return self

    def selection_valid(self) -> bool:
        """Whether the hidden selection fields are intact (whatever the reason field says)."""
        return all(not self[name].errors for name in self.SELECTION) and bool(self.criterion.data)


# --- Rendering -------------------------------------------------------------------------------


def _filters_key(petition: Petition) -> str:
    return f"signature-filters-{petition.id}"


def _filter_form(petition: Petition, submitted: bool) -> SignatureFilterForm:
    """The filters just submitted, or else those kept in the session."""
    locale = str(get_locale())
    if submitted:
        return SignatureFilterForm().offer_choices(petition, locale)
    stored = MultiDict(session.get(_filters_key(petition), {}))
    return SignatureFilterForm(formdata=stored, meta={"csrf": False}).offer_choices(
        petition, locale
    )


def _local_timezone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


def _render_table(
    petition: Petition, form: SignatureFilterForm, page_form: TablePageForm, status: int = 200
):
    after = page_form.cursor()
    page = (
        None if form.errors else moderation.signature_table_page(petition.id, form.filters(), after)
    )
    days = page_form.days.data or CHART_PERIODS[0]
    # The counts read every signature of the petition: once per visit (the first page), not
    # once per page turned.
    counts = (
        None if after else moderation.moderation_counts(petition, utcnow(), days, _local_timezone())
    )
    locale = str(get_locale())
    return render_template(
        "workspace/signatures/table.html",
        petition=petition,
        text=petition.text(locale),
        form=form,
        page=page,
        after=page_form.after.data or "",
        days=days,
        periods=CHART_PERIODS,
        counts=counts,
        may_attest=can_manage(current_user, petition),
        level_labels=VERIFICATION_LABELS,
        status_labels=STATUS_LABELS,
        category_labels={c.key: c.label(locale) for c in petition.categories},
        origin_mark=moderation.origin_mark,
        hideable=moderation.HIDEABLE,
        invalidatable=moderation.INVALIDATABLE,
        restorable=moderation.RESTORABLE,
    ), status


def _not_in_petition(petition: Petition):
    """The same answer for an unknown id and another petition's signature."""
    flash(_("This petition has no such signature: nothing changed."), "error")
    return redirect(url_for(".moderation_table", slug=petition.slug), 303)


def _back_to_table(petition: Petition, form: ModerationForm):
    after = form.after.data if not form.after.errors else None
    return redirect(url_for(".moderation_table", slug=petition.slug, after=after or None), 303)


# --- The table -------------------------------------------------------------------------------


@bp.get("/p/<slug>/signatures")
def moderation_table(slug: str):
    petition = moderated_petition(slug)
    page_form = TablePageForm(request.args)
    if not page_form.validate():
        abort(400)
    form = _filter_form(petition, submitted=False)
    if not form.validate():
        # Stored filters that no longer apply (a category no longer offered): start afresh.
        session.pop(_filters_key(petition), None)
        form = SignatureFilterForm(formdata=None, meta={"csrf": False})
        form.offer_choices(petition, str(get_locale()))
    return _render_table(petition, form, page_form)


@bp.post("/p/<slug>/signatures")
def moderation_filters(slug: str):
    petition = moderated_petition(slug)
    form = _filter_form(petition, submitted=True)
    valid = form.validate_on_submit()
    if form.clear.data and not form.csrf_token.errors:
        # Clearing works whatever the other fields hold.
        session.pop(_filters_key(petition), None)
    elif not valid:
        return _render_table(petition, form, TablePageForm(MultiDict()), status=422)
    else:
        session[_filters_key(petition)] = form.stored()
    return redirect(url_for(".moderation_table", slug=slug), 303)


# --- One signature ---------------------------------------------------------------------------


@bp.post("/p/<slug>/signatures/<int:signature_id>/hide")
def moderation_hide(slug: str, signature_id: int):
    petition = moderated_petition(slug)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        hidden = moderation.hide_signature(petition, signature_id, current_user, utcnow())
    except SignatureNotFound:
        return _not_in_petition(petition)
    if hidden:
        flash(_("The signature is hidden: it is out of the public list and the count."), "success")
    else:
        flash(_("This signature was not confirmed any more: nothing changed."), "error")
    return _back_to_table(petition, form)


@bp.post("/p/<slug>/signatures/<int:signature_id>/first")
def mark_first_signatory(slug: str, signature_id: int):
    # Organisers only: marking attests the name in their own name.
    petition = managed_petition(slug)
    form = FirstSignatoryForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors or form.after.errors:
            abort(400)
        flash(" ".join(str(error) for error in form.position.errors), "error")
        return _back_to_table(petition, form)
    try:
        moderation.mark_first_signatory(
            petition, signature_id, current_user, utcnow(), position=form.position.data
        )
    except SignatureNotFound:
        return _not_in_petition(petition)
    flash(_("First signatory: listed first, attested by you."), "success")
    return _back_to_table(petition, form)


@bp.post("/p/<slug>/signatures/<int:signature_id>/unfirst")
def unmark_first_signatory(slug: str, signature_id: int):
    petition = managed_petition(slug)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        removed = moderation.unmark_first_signatory(petition, signature_id, current_user, utcnow())
    except SignatureNotFound:
        return _not_in_petition(petition)
    if removed:
        flash(_("No longer a first signatory: back among the others."), "success")
    else:
        flash(_("This signature was not a first signatory: nothing changed."), "error")
    return _back_to_table(petition, form)


@bp.post("/p/<slug>/signatures/<int:signature_id>/restore")
def moderation_restore(slug: str, signature_id: int):
    petition = moderated_petition(slug)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        restored = moderation.restore_signature(petition, signature_id, current_user, utcnow())
    except SignatureNotFound:
        return _not_in_petition(petition)
    if restored:
        flash(_("The signature is restored: it counts again."), "success")
    else:
        flash(_("This signature was not hidden, invalidated or held: nothing changed."), "error")
    return _back_to_table(petition, form)


@bp.route("/p/<slug>/signatures/<int:signature_id>/invalidate", methods=["GET", "POST"])
def moderation_invalidate(slug: str, signature_id: int):
    petition = moderated_petition(slug)
    try:
        signature = moderation.signature_for_moderation(petition, signature_id)
    except SignatureNotFound:
        return _not_in_petition(petition)
    form = InvalidationForm(after=request.args.get("after", ""))
    if form.validate_on_submit():
        reason = form.reason.data
        if moderation.invalidate_signature(petition, signature_id, reason, current_user, utcnow()):
            flash(_("The signature is invalidated: it no longer counts."), "success")
        else:
            flash(_("This signature was not confirmed, hidden or held: nothing changed."), "error")
        return _back_to_table(petition, form)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "workspace/signatures/invalidate.html",
        petition=petition,
        signature=signature,
        form=form,
        status_labels=STATUS_LABELS,
        invalidatable=moderation.INVALIDATABLE,
    ), status


# --- In bulk ---------------------------------------------------------------------------------


def _origin_signature(petition: Petition, signature_id: int | None):
    if signature_id is None:
        return None
    try:
        return moderation.signature_for_moderation(petition, signature_id)
    except SignatureNotFound:
        return None


def _render_preview(petition: Petition, form: BulkConfirmationForm, count: int, status: int = 200):
    return render_template(
        "workspace/signatures/bulk_preview.html",
        petition=petition,
        form=form,
        count=count,
        limit=moderation.BULK_LIMIT,
        origin=_origin_signature(petition, form.origin_of.data),
        origin_mark=moderation.origin_mark,
        timezone=get_timezone(),
    ), status


@bp.route("/p/<slug>/signatures/bulk", methods=["GET", "POST"])
def moderation_bulk(slug: str):
    petition = moderated_petition(slug)
    form = BulkSelectionForm(
        criterion=request.args.get("criterion"), origin_of=request.args.get("origin_of", type=int)
    )
    if form.validate_on_submit():
        try:
            count = moderation.bulk_invalidation_count(petition, form.selection())
        except NoOriginRecorded:
            form.criterion.errors.append(_("This signature has no recorded origin."))
        else:
            confirmation = BulkConfirmationForm(formdata=None, data=form.data).expect(count)
            return _render_preview(petition, confirmation, count)
    return render_template(
        "workspace/signatures/bulk.html",
        petition=petition,
        form=form,
        origin=_origin_signature(petition, form.origin_of.data),
        origin_mark=moderation.origin_mark,
        timezone=get_timezone(),
    ), (422 if form.is_submitted() else 200)


@bp.post("/p/<slug>/signatures/bulk/confirm")
def moderation_bulk_confirm(slug: str):
    petition = moderated_petition(slug)
    form = BulkConfirmationForm()
    valid = form.validate_on_submit()
    if not form.selection_valid():
        abort(400)
    try:
        if not valid:
            count = moderation.bulk_invalidation_count(petition, form.selection())
            return _render_preview(petition, form.expect(count), count, status=422)
        moved = moderation.invalidate_in_bulk(
            petition, form.selection(), form.expected.data, form.reason.data, current_user, utcnow()
        )
    except BulkCountChanged as changed:
        flash(
            _(
                "The number of matching signatures changed since the preview, from %(before)s "
                "to %(now)s. Check it and confirm again.",
                before=changed.expected,
                now=changed.current,
            ),
            "error",
        )
        return _render_preview(petition, form.expect(changed.current), changed.current, 409)
    except BulkTooLarge:
        count = moderation.bulk_invalidation_count(petition, form.selection())
        return _render_preview(petition, form.expect(count), count, 409)
    except NoOriginRecorded:
        flash(_("This signature has no recorded origin any more: nothing changed."), "error")
        return redirect(url_for(".moderation_bulk", slug=slug), 303)
    flash(
        ngettext("%(num)s signature invalidated.", "%(num)s signatures invalidated.", moved),
        "success",
    )
    return redirect(url_for(".moderation_table", slug=slug), 303)
