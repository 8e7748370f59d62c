"""Publication tests record the jobs that publishing enqueues instead of running them
in-process: rendering every PDF after every publication would make the suite slow. Tests
that need a file render it on demand, as a download does."""

import pytest

from campaign.publication import services
from tests.conftest import IsolatedClient


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(services, "enqueue", lambda job, *ids: calls.append((job.__name__, *ids)))
    return calls


class BufferedClient(IsolatedClient):
    """Reads streamed downloads to the end inside the request's own context, as a server
    does; reading them later, from the test's context, would pop the wrong context."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = BufferedClient
    return app.test_client()
