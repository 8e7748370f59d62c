"""The micro-caching of docs/deploy.md (10.3) run for real: nginx with the documented snippets
(docs/nginx/) in front of the app; skipped where nginx is not installed (a failure in CI).
And the guide shows those very snippets."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from tests.conftest import unavailable
from tests.factories import make_petition
from tests.support import sign_data

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingApp:
    """The app, counting the requests that reach it per path."""

    def __init__(self, app) -> None:
        self.app, self.hits, self.lock = app, {}, threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.hits[environ["PATH_INFO"]] = self.hits.get(environ["PATH_INFO"], 0) + 1
        return self.app(environ, start_response)


@pytest.fixture
def behind_nginx(app, tmp_path):
    if NGINX is None:
        unavailable("nginx (Debian package nginx) is not installed")
    counting = CountingApp(app.wsgi_app)
    app.wsgi_app = counting
    app_port, nginx_port = free_port(), free_port()
    server = make_server("127.0.0.1", app_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    http_part = (ROOT / "docs/nginx/tribune-cache-http.conf").read_text()
    http_part = http_part.replace("/var/cache/nginx/tribune", str(tmp_path / "cache"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "cache-http.conf").write_text(http_part)
    (tmp_path / "nginx.conf").write_text(
        f"""
daemon off;
master_process off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/cache-http.conf;
    server {{
        listen 127.0.0.1:{nginx_port};
        server_name localhost;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;  # with the port, as the Origin has it
            include {ROOT}/docs/nginx/tribune-cache-location.conf;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}
}}
"""
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", nginx_port), timeout=0.2).close()
            break
        except OSError:
            if nginx.poll() is not None:
                pytest.fail(f"nginx did not start: {nginx.stderr.read().decode()}")
            time.sleep(0.05)

    def get(path, headers=None, method="GET", body=None):
        conn = http.client.HTTPConnection("127.0.0.1", nginx_port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.body = response.read()
        conn.close()
        return response

    get.hits = counting.hits
    get.port = nginx_port
    yield get
    nginx.terminate()
    nginx.wait(timeout=10)
    server.shutdown()
    thread.join(timeout=10)


def test_anonymous_page_is_served_from_nginx_s_cache(behind_nginx):
    petition = make_petition()
    path = f"/p/{petition.slug}"
    first = behind_nginx(path)
    assert first.status == 200 and first.getheader("X-Cache-Status") == "MISS"
    second = behind_nginx(path)
    assert second.status == 200 and second.getheader("X-Cache-Status") == "HIT"
    assert second.body == first.body
    assert behind_nginx.hits[path] == 1
    # Another language is another entry, in that language.
    english = behind_nginx(path, {"Accept-Language": "en"})
    assert english.getheader("X-Cache-Status") == "MISS"
    assert english.getheader("Content-Language") == "en"
    assert behind_nginx(path, {"Cookie": "lang=en"}).getheader("Content-Language") == "en"


def test_a_visitor_with_a_session_always_reaches_the_app(behind_nginx):
    petition = make_petition()
    path = f"/p/{petition.slug}"
    behind_nginx(path)
    for _ in range(2):
        response = behind_nginx(path, {"Cookie": "session=anything"})
        assert response.getheader("X-Cache-Status") == "BYPASS"
    assert behind_nginx.hits[path] == 3


def test_signing_through_nginx_from_the_cached_page(behind_nginx):
    petition = make_petition()
    behind_nginx(f"/p/{petition.slug}")
    response = behind_nginx(
        f"/p/{petition.slug}/sign",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://127.0.0.1:{behind_nginx.port}",
            "Sec-Fetch-Site": "same-origin",
        },
        method="POST",
        body=urlencode(sign_data()),
    )
    assert response.status == 303, response.body[:300]
    assert response.getheader("Set-Cookie", "").startswith("session=")
    refused = behind_nginx(
        f"/p/{petition.slug}/sign",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://attacker.example",
        },
        method="POST",
        body=urlencode(sign_data(email="other@example.org")),
    )
    assert refused.status == 403


def test_the_guide_shows_the_snippets_the_test_runs():
    guide = (ROOT / "docs/deploy.md").read_text()
    for name in ("tribune-cache-http.conf", "tribune-cache-location.conf"):
        assert (ROOT / "docs/nginx" / name).read_text() in guide, name
