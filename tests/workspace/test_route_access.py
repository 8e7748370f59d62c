"""Every workspace route against every role: who may see it, and that nobody else learns
anything (redirect to login, or 404 as if the petition did not exist)."""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from campaign.abuse import block_domain
from campaign.clock import utcnow
from campaign.mailings.models import MailingKind
from campaign.mailings.services import MailingFields, create_mailing
from campaign.verification.services import add_domain_rule
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, sign

# Routes open to any logged-in account, whatever its role.
ANY_ACCOUNT = {
    "workspace.dashboard",
    "workspace.trending_alerts",  # lists only the petitions the account works on
    "accounts.enrol_second_factor",
    "accounts.logout",
}
# Routes for any organiser (and admins), not tied to one petition: nothing here changes what
# another organiser's petition shows or sends.
ANY_ORGANISER = {
    "workspace.new_petition",
    # The officials directory, read only: every petition's mailings write to it.
    "workspace.official_list",
}
# Routes a moderator assigned to the petition may use (the rest needs its manager).
MODERATION = {
    "workspace.petition_signatures",
    "workspace.signature_list",
    # Supporters' letters held for moderation or flagged.
    "workspace.moderation_letters",
    "workspace.moderation_release_letters",
    "workspace.moderation_reject_letters",
}
# A petition's mailings: its managers only (the default), each route filled with a mailing
# of the petition so that none goes unchecked.
MAILINGS = {
    "workspace.mailings",
    "workspace.new_mailing",
    "workspace.mailing",
    "workspace.mailing_progress",
    "workspace.count_mailing_recipients",
    "workspace.edit_mailing",
    "workspace.preview_mailing",
    "workspace.test_mailing",
    "workspace.start_mailing",
    "workspace.pause_mailing",
    "workspace.resume_mailing",
    "workspace.cancel_mailing",
    "workspace.retry_failed_deliveries",
    "workspace.resend_unknown_deliveries",
    "workspace.mark_unknown_deliveries_sent",
}
BLOCKED = "spam.example"
# Routes reachable without an account.
PUBLIC = {"accounts.login", "accounts.second_factor"}
# Settings that act on every petition at once: the site's admins only (issue 15.2). One
# organiser could otherwise verify strangers' signatures on another's petition (a domain rule),
# add a fake member of parliament that other organisers' letters go to and whose address the
# roster check trusts (the officials import), or bar a webmail domain from every petition.
ADMIN_ONLY = {
    "workspace.audit_log",
    "workspace.blocked_domain_list",
    "workspace.unblock",
    "workspace.import_officials",
    "workspace.officials_import_preview",
    "workspace.officials_import_confirm",
    # The institutions objection letters go to, shared by every petition's campaign.
    "workspace.institution_list",
    "workspace.import_institutions_file",
    "workspace.verification_settings",
    "workspace.remove_verification_rule",
}


def workspace_rules(app) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/admin") and rule.endpoint not in PUBLIC
        ),
        key=lambda rule: rule.rule,
    )


def fill(rule: Rule, slug: str, ids: dict[str, int] | None = None) -> str | None:
    """A URL for the rule: the petition's slug, and for an id argument the id of one of the
    petition's own rows (`ids`: signature_id, mailing_id, rule_id...) or the blocked domain;
    None for other arguments (those routes have their own tests)."""
    ids = ids or {}
    path = rule.rule
    for argument in rule.arguments:
        converter = type(rule._converters[argument]).__name__
        if argument == "slug":
            path = path.replace("<slug>", slug).replace("<string:slug>", slug)
        elif argument in ids and converter == "IntegerConverter":
            path = path.replace(f"<int:{argument}>", str(ids[argument]))
        elif argument == "domain":
            path = path.replace("<domain>", BLOCKED)
        else:
            return None
    return path


@pytest.fixture
def cast(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    signature = make_signature(petition)
    moderator = make_user("moderator")
    from campaign.accounts.services import assign_moderator

    assign_moderator(petition, moderator)
    mailing = create_mailing(
        petition,
        MailingKind.LETTER,
        MailingFields(name="Lettre", subject_template="Objet", body_template="Texte"),
        owner,
        utcnow(),
    )
    admin = make_user("admin")
    rule = add_domain_rule("mp", "assemblee-nationale.fr", admin, utcnow())
    block_domain(BLOCKED, "", admin, utcnow())
    return {
        "ids": {"signature_id": signature.id, "mailing_id": mailing.id, "rule_id": rule.id},
        "mailing": mailing,
        "owner": owner,
        "admin": admin,
        "other_organiser": make_user("organiser"),
        "assigned_moderator": moderator,
        "unassigned_moderator": make_user("moderator"),
        "petition": petition,
        "signature": signature,
    }


def expected_access(endpoint: str, who: str) -> bool:
    if endpoint in ANY_ACCOUNT:
        return True
    if endpoint in ADMIN_ONLY:
        return who == "admin"
    if endpoint in ANY_ORGANISER:
        return who in ("admin", "owner", "other_organiser")
    if who in ("admin", "owner"):
        return True
    if who == "assigned_moderator":
        return endpoint in MODERATION or endpoint.startswith("workspace.moderat")
    return False


def request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    token = csrf_token(client, "/admin/")
    return client.post(url, data={"csrf_token": token})


@pytest.mark.parametrize("who", ["anonymous", "supporter"])
def test_every_workspace_route_redirects_anonymous_visitors_to_login(app, cast, who):
    # Supporters have no account: one who has just signed holds a session, and no more.
    client = app.test_client()
    if who == "supporter":
        assert sign(client, cast["petition"], email="supporter@example.org").status_code == 303
    checked = 0
    for rule in workspace_rules(app):
        url = fill(rule, cast["petition"].slug, cast["ids"])
        if url is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.get(url) if method == "GET" else client.post(url)
            if method == "POST" and response.status_code == 400:
                continue  # refused by CSRF before anything else: also nothing learnt
            assert response.status_code in (302, 303), (method, url, response.status_code)
            assert "/admin/login" in response.headers["Location"], (method, url)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize(
    "who", ["owner", "admin", "other_organiser", "assigned_moderator", "unassigned_moderator"]
)
def test_every_workspace_route_against_every_role(app, cast, who):
    client = app.test_client()
    login(client, cast[who])
    slug = cast["petition"].slug
    seen = []
    for rule in workspace_rules(app):
        url = fill(rule, slug, cast["ids"])
        if url is None or rule.endpoint == "accounts.logout":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = request(client, method, url)
            allowed = expected_access(rule.endpoint, who)
            if allowed:
                # Allowed: the page, a redirect after an action, or a form re-rendered.
                assert response.status_code in (200, 303, 302, 400, 409, 422), (
                    who, method, url, response.status_code,
                )  # fmt: skip
            else:
                assert response.status_code == 404, (who, method, url, response.status_code)
            seen.append((rule.endpoint, method))
    assert seen, "no workspace route was checked"
    assert MAILINGS.issubset(endpoint for endpoint, _method in seen)
    assert ADMIN_ONLY.issubset(endpoint for endpoint, _method in seen)
