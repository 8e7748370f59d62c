"""Link tokens stay out of the logs: the development server's request log and the app's
own lines show every token-bearing path (/s/, /a/, /u/, /p/<slug>/write/) redacted; the
deployment guide's nginx and Caddy configurations redact the same paths."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from campaign.tokens import redact_token_paths
from tests.factories import make_petition

TOKEN = "Ab3dEf.Gh-Ij_Kl9mN0pQ"
PATHS = [
    f"/s/{TOKEN}",
    f"/s/{TOKEN}/withdraw",
    f"/s/{TOKEN}/my-data",
    f"/s/{TOKEN}/my-data.json",
    f"/a/{TOKEN}",
    f"/u/{TOKEN}",
    f"/p/{{slug}}/write/{TOKEN}",
]
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


@pytest.fixture
def logs(app, caplog, monkeypatch):
    """caplog, with the loggers that the migrations' logging.config.fileConfig() disabled
    in this test process enabled again (a server process never runs the migrations)."""
    for name in ("werkzeug", app.logger.name, "campaign.anything"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    caplog.set_level(logging.INFO)
    return caplog


def test_the_development_servers_request_log_holds_no_token(app, logs):
    petition = make_petition()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in PATHS:
            url = f"http://127.0.0.1:{server.port}{path.format(slug=petition.slug)}"
            # An invalid token gets its error page; the request is logged either way.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(url, timeout=10).close()
    finally:
        server.shutdown()
        thread.join(10)
    request_lines = [r.getMessage() for r in logs.records if r.name == "werkzeug"]
    assert len(request_lines) >= len(PATHS)
    assert TOKEN not in logs.text
    assert sum("-redacted-" in line for line in request_lines) >= len(PATHS)


def test_the_apps_own_log_lines_hold_no_token(app, logs):
    app.logger.error("Exception on %s [%s]", f"/s/{TOKEN}/withdraw", "POST")
    logging.getLogger("campaign.anything").warning("failed for /u/%s", TOKEN)
    assert TOKEN not in logs.text
    assert "/s/-redacted-/withdraw" in logs.text


@pytest.mark.parametrize("path", PATHS)
def test_every_token_path_is_redacted(path):
    redacted = redact_token_paths(path.format(slug="sante"))
    assert TOKEN not in redacted and "-redacted-" in redacted


def nginx_map() -> list[tuple[str, str]]:
    text = DEPLOY.read_text()
    block = re.search(r"map \$request_uri \$tribune_uri \{(.*?)\}", text, re.S).group(1)
    entries = [line.split() for line in block.strip().splitlines()]
    return [(pattern, value) for pattern, value in entries if pattern != "default"]


@pytest.mark.parametrize("path", PATHS)
def test_the_nginx_access_log_format_redacts_every_token_path(path):
    uri = path.format(slug="sante")
    for pattern, value in nginx_map():
        # nginx's map patterns are PCRE, with (?<name>...) groups as Python's (?P<name>...).
        match = re.match(pattern.lstrip("~").replace("(?<", "(?P<"), uri)
        if match:
            logged = re.sub(r"\$(\w+)", lambda m: match.group(m.group(1)), value)
            assert TOKEN not in logged and "-redacted-" in logged
            return
    pytest.fail(f"{uri} is logged as it is")


@pytest.mark.parametrize("path", PATHS)
def test_the_caddy_access_log_filter_redacts_every_token_path(path):
    text = DEPLOY.read_text()
    pattern, replacement = re.search(r"request>uri regexp (\S+) (\S+)", text).groups()
    logged = re.sub(pattern.strip('"'), replacement.strip('"').replace("${1}", r"\1"), path)
    assert TOKEN not in logged and "-redacted-" in logged
