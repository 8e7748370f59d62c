"""Fuzzing the sign form's validation: whatever is typed, the form either accepts values that
satisfy every rule, or refuses with messages and stores nothing; the server never fails."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.forms import SignatureForm
from campaign.signatures.models import Signature
from campaign.text_rules import contains_web_address, has_control_characters
from tests.factories import make_petition
from tests.support import sign_data

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
names = st.one_of(
    st.text(max_size=130),
    st.text(alphabet=string.ascii_letters + " -'éèàçÉ", min_size=1, max_size=30),
    st.sampled_from(["http://spam.example", "www.x.fr", "a\r\nb", "\u202e", "  ", "O'Brien"]),
)


@FUZZ
@given(
    first=names,
    last=names,
    title=st.text(max_size=220),
    email=st.one_of(st.emails(), st.text(max_size=40)),
)
def test_accepted_values_satisfy_every_rule(app, first, last, title, email):
    petition = make_petition()
    data = sign_data(first_name=first, last_name=last, title=title, email=email)
    with app.test_request_context(method="POST", data=data):
        form = SignatureForm(meta={"csrf": False}).offer_choices(petition, "fr")
        if form.validate():
            for value in (form.first_name.data, form.last_name.data):
                assert 1 <= len(value) <= 100 and value == value.strip()
                assert not has_control_characters(value) and not contains_web_address(value)
            assert len(form.title.data) <= 200 and not has_control_characters(form.title.data)
            assert "@" in form.email.data
        else:
            assert form.errors


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from([*sign_data(), "altcha", "extra"]),
        st.one_of(st.text(max_size=300), st.binary(max_size=50).map(lambda b: b.decode("latin-1"))),
    )
)
def test_the_server_never_fails_on_arbitrary_submissions(make_app, fields):
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        before = db.session.scalar(select(func.count(Signature.id)))
        response = app.test_client().post(f"/p/{petition.slug}/sign", data=fields)
        after = db.session.scalar(select(func.count(Signature.id)))
        assert response.status_code in (303, 422)
        assert after == before + (1 if response.status_code == 303 else 0)
