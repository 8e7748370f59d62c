"""Does asking for the link to one's data answer as fast for an address that signed as for
one that did not? Prints the median response time of each, over interleaved requests. With
`sign`, the same for the sign form: an address that already signed against a new one.

    .venv/bin/python bench/rights_link_timing.py [samples] [sign]   (DATABASE_URL, REDIS_URL)

The embedded default (SQLite, no Redis) unless DATABASE_URL is set; in-process jobs unless
REDIS_URL is set (then nothing consumes the queue: only the request is timed). Also prints
the median CPU time of the request's own thread (time.thread_time), which a loaded machine
disturbs less than the wall clock. Issue 15.5 measured 12 ms against 5 ms before the request
did the same work on both paths; for the sign form, 148 ms against 48 ms (SQLite, machine
loaded) before the new signature's email left the request.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaign import create_app
from campaign.extensions import db
from campaign.petitions.services import ensure_default_categories


def main(samples: int, what: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tribune-bench-"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "EMAIL_DIGEST_KEY": "bench-digest",
            "IP_HASH_KEY": "bench-ip",
            "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "SQLALCHEMY_DATABASE_URI": os.environ.get(
                "DATABASE_URL", f"sqlite:///{folder / 'bench.db'}"
            ),
            "REDIS_URL": os.environ.get("REDIS_URL"),
            "MAIL_SERVER": None,
            "OUTBOX_DIR": str(folder / "outbox"),
            "PUBLIC_URL": "http://tribune.test",
            "RATELIMIT_ENABLED": False,
            "ALTCHA_ENABLED": False,
            "PRIVACY_RIGHTS_LINKS_PER_DAY": samples + 10,
            "SUSPECT_SIGNATURES_PER_IP_PER_HOUR": 10**6,
            "SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR": 10**6,
        }
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.factories import make_petition, make_signature
    from tests.support import settle_detached_jobs, sign_data

    with app.app_context():
        db.create_all()
        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, email="signer@example.org")
        db.session.commit()
        client = app.test_client()
        if what == "sign":
            path = f"/p/{petition.slug}"
            token = _csrf(client.get(path).get_data(as_text=True))
            labels = ("signed", "did not sign")
            times: dict[str, list[float]] = {label: [] for label in labels}

            def post(label: str, number: int):
                email = "signer@example.org" if label == "signed" else f"new{number}@example.org"
                return client.post(f"{path}/sign", data=sign_data(csrf_token=token, email=email))

        else:
            path = f"/p/{petition.slug}/my-signature"
            token = _csrf(client.get(path).get_data(as_text=True))
            times = {"signed": [], "did not sign": []}
            addresses = {"signed": "signer@example.org", "did not sign": "nobody@example.org"}

            def post(label: str, number: int):
                return client.post(path, data={"csrf_token": token, "email": addresses[label]})

        cpu: dict[str, list[float]] = {label: [] for label in times}
        for number in range(2 * samples + 20):
            which = "signed" if number % 2 else "did not sign"
            start, start_cpu = time.perf_counter(), time.thread_time()
            response = post(which, number)
            elapsed, elapsed_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
            assert response.status_code == 303, response.status_code
            if number >= 20:  # warm-up
                times[which].append(elapsed * 1000)
                cpu[which].append(elapsed_cpu * 1000)
            # The job's thread (in-process) would otherwise slow the next request down:
            # the one after a new signature would pay for its email.
            settle_detached_jobs(app)
            time.sleep(0.01)
    for which, values in times.items():
        print(
            f"{which:>13}: median {statistics.median(values):6.2f} ms over {len(values)}, "
            f"CPU of the request's thread {statistics.median(cpu[which]):6.2f} ms"
        )
    ratio = statistics.median(times["signed"]) / statistics.median(times["did not sign"])
    cpu_ratio = statistics.median(cpu["signed"]) / statistics.median(cpu["did not sign"])
    print(f"        ratio: {ratio:.2f} (CPU {cpu_ratio:.2f})")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 300,
        sys.argv[2] if len(sys.argv) > 2 else "rights",
    )
