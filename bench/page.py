"""The petition page and the sign POST, in-process, against a baseline tree in the same run.

    .venv/bin/python bench/page.py [--baseline DIR] [--seconds 5] [--signatures 2000]

For each tree (the baseline checkout given, e.g. `git archive <commit> | tar -x -C DIR`, then
this one), a fresh process builds the app on a temporary SQLite database, creates a petition
with N confirmed signatures, and for S seconds each, on one thread (Flask's test client, so
the figure is the app's own CPU per request, no network, no server):
  - GET /p/<slug> by anonymous readers (no cookie): pages per second;
  - the same GET with If-None-Match: the ETag it was given (304 where the tree has them);
  - the sign POST with its token and the Origin a browser sends: accepted signatures per second.
  - where nginx is installed and the tree has docs/nginx/: GET /p/<slug> through nginx with
    the documented micro-cache in front of the app (one client, keep-alive), what an
    anonymous reader gets in production (docs/deploy.md 10.3).
Prints requests per second per tree and the ratio this/baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(seconds: float, signatures: int) -> dict[str, float]:
    """Run inside the tree to measure (its directory first on sys.path)."""
    sys.path.insert(0, os.getcwd())
    from flask_migrate import upgrade

    from campaign import create_app
    from campaign.extensions import db
    from campaign.petitions.services import ensure_default_categories
    from tests.conftest import TEST_SECRETS
    from tests.factories import make_petition, make_signature
    from tests.support import csrf_token, sign_data

    folder = Path(tempfile.mkdtemp(prefix="tribune-bench-page-"))
    app = create_app(
        {
            **TEST_SECRETS,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "OUTBOX_DIR": str(folder / "outbox"),
            "PUBLIC_URL": "http://localhost",
            "RATELIMIT_ENABLED": False,
            "ALTCHA_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLICATION_MAX_DELAY": 0,
        }
    )
    with app.app_context():
        upgrade()
        ensure_default_categories()
        petition = make_petition()
        for _ in range(signatures):
            make_signature(petition)
        db.session.commit()
        slug = petition.slug
    path = f"/p/{slug}"
    results: dict[str, float] = {}

    def rate(name: str, request) -> None:
        request()  # warm
        deadline = time.perf_counter() + seconds
        count = 0
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            request()
            count += 1
        results[name] = count / (time.perf_counter() - started)

    def anonymous_get():
        response = app.test_client().get(path)
        assert response.status_code == 200, response.status_code

    etag = app.test_client().get(path).headers.get("ETag")

    def conditional_get():
        headers = {"If-None-Match": etag} if etag else {}
        response = app.test_client().get(path, headers=headers)
        assert response.status_code in (200, 304), response.status_code

    signer = app.test_client()
    with app.app_context():
        token = csrf_token(signer, path)
    numbers = iter(range(10**9))

    def sign_post():
        data = sign_data(csrf_token=token, email=f"bench{next(numbers)}@example.org")
        response = signer.post(f"{path}/sign", data=data, headers={"Origin": "http://localhost"})
        assert response.status_code == 303, response.status_code

    rate("GET /p/<slug> (anonymous)", anonymous_get)
    rate("GET /p/<slug> If-None-Match", conditional_get)
    rate("POST /p/<slug>/sign", sign_post)
    snippets = Path("docs/nginx/tribune-cache-location.conf")
    if shutil.which("nginx") and snippets.exists():
        with behind_nginx(app, folder) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

            def through_nginx():
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status

            rate("GET /p/<slug> via nginx cache", through_nginx)
            connection.close()
    return results


@contextlib.contextmanager
def behind_nginx(app, folder: Path):
    """The app on a threaded werkzeug server, behind nginx with docs/nginx/'s micro-cache
    (as tests/petitions/test_nginx_microcache.py runs it); yields nginx's port."""
    from werkzeug.serving import make_server

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    app_port, nginx_port = ports
    server = make_server("127.0.0.1", app_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cache_http = Path("docs/nginx/tribune-cache-http.conf").read_text()
    (folder / "cache-http.conf").write_text(
        cache_http.replace("/var/cache/nginx/tribune", str(folder / "cache"))
    )
    (folder / "nginx.conf").write_text(
        f"""daemon off; master_process off; pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/cache-http.conf;
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            include {Path.cwd()}/docs/nginx/tribune-cache-location.conf;
        }}
    }}
}}
"""
    )
    nginx = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", nginx_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield nginx_port
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        server.shutdown()


def run_tree(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, '.'); "
        f"sys.path.insert(0, {str(ROOT / 'bench')!r}); import page; "
        f"print(json.dumps(page.measure({args.seconds}, {args.signatures})))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"{tree}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the baseline commit")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--signatures", type=int, default=2000)
    args = parser.parse_args()
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    figures = {name: run_tree(tree, args) for name, tree in trees}
    kinds = list(next(iter(figures.values())))
    kinds += [kind for figure in figures.values() for kind in figure if kind not in kinds]
    print(f"{'requests per second':32}" + "".join(f"{name:>12}" for name in figures), end="")
    print(f"{'ratio':>8}" if args.baseline else "")
    for kind in kinds:
        values = [figures[name].get(kind) for name in figures]
        line = f"{kind:32}" + "".join(
            f"{value:12.1f}" if value is not None else f"{'-':>12}" for value in values
        )
        if args.baseline and None not in values:
            line += f"{values[-1] / values[0]:8.2f}"
        print(line)
    if args.baseline and "GET /p/<slug> via nginx cache" in figures["this tree"]:
        ratio = (
            figures["this tree"]["GET /p/<slug> via nginx cache"]
            / figures["baseline"]["GET /p/<slug> (anonymous)"]
        )
        print(f"anonymous page via nginx (this tree) / app alone (baseline): {ratio:.2f}")


if __name__ == "__main__":
    main()
