"""Home, privacy notice, language switch and the development outbox."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from flask_babel import get_locale

from campaign.abuse import new_challenge
from campaign.clock import utcnow
from campaign.extensions import limiter
from campaign.petitions.services import open_petitions
from campaign.signatures.services import signature_count
from campaign.web.language import LANGUAGE_COOKIE
from campaign.web.redirects import local_path

bp = Blueprint("pages", __name__)


@bp.get("/favicon.ico")
def favicon():
    # Asked for at this address by browsers and feed readers whatever the page says.
    return send_from_directory(
        current_app.static_folder, "img/favicon.ico", mimetype="image/vnd.microsoft.icon"
    )


@bp.get("/")
def home():
    locale = str(get_locale())
    petitions = [
        (petition, petition.text(locale), signature_count(petition.id))
        for petition in open_petitions()
    ]
    return render_template("pages/home.html", petitions=petitions)


@bp.get("/altcha/challenge")
@limiter.limit("60 per minute")
def proof_of_work_challenge():
    response = jsonify(new_challenge(utcnow()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/language/<code>")
def language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(local_path(request.args.get("next")), code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=365 * 86400,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
    )
    return response


def _outbox_enabled() -> None:
    if not (current_app.debug or current_app.config["DEMO"]):
        abort(404)


def _read_message(path: Path) -> dict[str, str]:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text = message.get_body(preferencelist=("plain",))
    return {
        "name": path.name,
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "date": str(message["Date"]),
        "text": text.get_content() if text else "",
    }


@bp.get("/dev/outbox")
def outbox():
    _outbox_enabled()
    folder = Path(current_app.config["OUTBOX_DIR"])
    paths = sorted(folder.glob("*.eml"), reverse=True)[:50] if folder.exists() else []
    return render_template("pages/outbox.html", messages=[_read_message(p) for p in paths])
