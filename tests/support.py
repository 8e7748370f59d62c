"""Helpers for driving the site like a browser: CSRF tokens, the sign form, mail links."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


# The petition page is shared by every reader and holds no token: sign-form.js fetches it.
TOKEN_URL_PATTERN = re.compile(r'name="csrf_token" value="" data-token-url="([^"]+)"')


def csrf_token(client, path: str) -> str:
    """The CSRF token of the first form on the page at `path`; on the petition page, the one
    its script fetches."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_PATTERN.search(page)
    if match is None and (fetched := TOKEN_URL_PATTERN.search(page)):
        return client.get(unescape(fetched.group(1))).get_json()["token"]
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_data(**overrides) -> dict[str, str]:
    """A valid sign form submission."""
    data = {
        "first_name": "Alice",
        "last_name": "Martin",
        "email": "alice@example.fr",
        "category": "clinician",
        "title": "Médecin",
        "organisation": "AP-HP",
        "departement": "75",
        "show_name": "yes",
        "show_title": "y",
        "show_organisation": "y",
        "consent": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def sign(client, petition, **overrides):
    """Submit the sign form of `petition` with a valid CSRF token."""
    path = f"/p/{petition.slug}"
    data = sign_data(csrf_token=csrf_token(client, path), **overrides)
    response = client.post(f"{path}/sign", data=data)
    settle_detached_jobs(client.application)
    return response


def settle_detached_jobs(app, ceiling: float = 20) -> None:
    """Wait for the in-process jobs the requests started off their own thread (the sign
    POST's email is sent after the response): tests then read the mail as before."""
    deadline = time.monotonic() + ceiling
    while True:
        try:
            running = [t for t in set(app.extensions.get("tribune_timers", ())) if t.interval == 0]
        except RuntimeError:  # the set changed size while copied: a job just ended
            continue
        if not running:
            return
        assert time.monotonic() < deadline, f"detached jobs still running after {ceiling} s"
        running[0].join(max(0.0, deadline - time.monotonic()))


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def links_in(text: str) -> list[str]:
    """The http(s) links of a text or HTML body, in order."""
    return [unescape(link) for link in re.findall(r"https?://[^\s\"<>]+", text)]


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def visible_text(html: str) -> str:
    """A page's text without tags, for assertions on what a reader sees."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def english_client(app, user=None):
    """A client reading English (the language cookie), logged in as `user` if given."""
    from campaign.web.language import LANGUAGE_COOKIE

    client = app.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "en")
    if user is not None:
        login(client, user)
    return client


def login(client, user, password: str = "correct horse battery staple"):
    """Log `client` in as `user` through the login form (no second factor)."""
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"csrf_token": token, "email": user.email, "password": password}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def wait_until(condition, ceiling: float, what: str) -> None:
    """Poll `condition` until it holds; fail after `ceiling` seconds, naming `what`."""
    deadline = time.monotonic() + ceiling
    while not condition():
        assert time.monotonic() < deadline, f"not within {ceiling} s: {what}"
        time.sleep(0.01)


# The only other hosts a page may name: plain links of the share panel (issue 18.1), which
# load nothing until the reader clicks them.
SHARE_HOSTS = {"wa.me", "t.me", "bsky.app", "www.linkedin.com", "www.facebook.com", "x.com"}


class _References(HTMLParser):
    """Every address a page names: (tag, attribute, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "srcset", "href", "action", "formaction", "poster", "data",
                        "content", "style"} and value:  # fmt: skip
                self.found.append((tag, name, value))


def other_hosts(html: str, own: str = "tribune.test") -> list[tuple[str, str, str]]:
    """What the page would load from, or send a reader to, another host than its own; share
    links are allowed only as plain links (<a>) to the known networks."""
    parser = _References()
    parser.feed(html)
    wrong = []
    for tag, name, value in parser.found:
        for url in re.findall(r"(?:https?:)?//[^\s\"'()<>,]+", value):
            host = urlsplit(url if "//" in url[:8] else "http:" + url).hostname
            if host == own:
                continue
            if tag == "a" and name == "href" and value.startswith(url) and host in SHARE_HOSTS:
                continue
            wrong.append((tag, name, value))
    # Styles and imports written in the page itself.
    for match in re.finditer(
        r"url\(\s*[\"']?\s*(?:https?:)?//|@import\s+[\"']?(?:https?:)?//", html
    ):
        wrong.append(("style", "url", match.group(0)))
    return wrong
