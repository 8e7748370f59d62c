"""Link tokens stay out of the logs: the development server's request log and the app's
own lines show every token-bearing path (/s/, /a/, /u/, /p/<slug>/write/) redacted; the
deployment guide's nginx and Caddy configurations redact the same paths (the Caddyfile run
by a real Caddy, when one is installed: Debian package caddy)."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from campaign.tokens import redact_token_paths
from tests.conftest import free_port, unavailable
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


def caddyfile_from_the_guide(port: int, upstream: int, log: Path, static: Path) -> str:
    """docs/deploy.md's Caddyfile as written, pointed at loopback ports and temporary paths
    (plain HTTP, no admin endpoint): the guide is what is tested."""
    text = DEPLOY.read_text()
    block = re.search(r"`/etc/caddy/Caddyfile`:\n\n```\n(.*?)```", text, re.S).group(1)
    replacements = {
        "petitions.example.org {": f"http://127.0.0.1:{port} {{",
        "/var/log/caddy/tribune.access.log": str(log),
        "/srv/tribune/app/static": str(static),
        "127.0.0.1:8000": f"127.0.0.1:{upstream}",
    }
    for documented, local in replacements.items():
        assert documented in block, f"docs/deploy.md's Caddyfile no longer has {documented!r}"
        block = block.replace(documented, local)
    return "{\n\tadmin off\n}\n" + block


@pytest.fixture
def upstream() -> Iterator[int]:
    """A tiny application behind the proxy: 200 for every path."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_real_caddy_with_the_guides_config_logs_no_token(upstream, tmp_path):
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy (Debian package caddy) is not installed")
    port, log, static = free_port(), tmp_path / "access.log", tmp_path / "static"
    static.mkdir()
    config = tmp_path / "Caddyfile"
    config.write_text(caddyfile_from_the_guide(port, upstream, log, static))
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
        env={**os.environ, **home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        uris = [path.format(slug="sante") for path in PATHS] + ["/p/sante?x=1"]
        for uri in uris:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{uri}",
                headers={"Cookie": f"session={TOKEN}", "Referer": f"http://x.test/s/{TOKEN}"},
            )
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        assert response.read() == b"ok"
                    break
                except urllib.error.URLError:
                    assert process.poll() is None, process.stderr.read().decode()
                    assert time.monotonic() < deadline, "caddy did not answer"
                    time.sleep(0.1)
        deadline = time.monotonic() + 10
        while len(log.read_text().splitlines() if log.exists() else []) < len(uris):
            assert time.monotonic() < deadline, "caddy wrote no access log line per request"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    logged = [line["request"]["uri"] for line in lines]
    assert TOKEN not in log.read_text()
    assert sum("-redacted-" in uri for uri in logged) == len(PATHS)
    assert "/p/sante?x=1" in logged, "the other paths are logged as they are"
    assert all(line["request"]["remote_ip"] == "127.0.0.0" for line in lines)
