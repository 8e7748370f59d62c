"""Fresh downloads (issue 16.4): a confirmed or withdrawn name reaches every download within
PUBLICATION_MAX_DELAY, with no organiser action: a change schedules a publication at the end
of its slot, once per petition and slot, in-process or on RQ; the worker's sweep publishes
what a lost job would have."""

import time
from datetime import datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import job_queue
from campaign.petitions.services import ensure_default_categories
from campaign.privacy.services import correct_details
from campaign.publication.jobs import (
    publication_job_id,
    publish_stale_lists,
    schedule_publication,
)
from campaign.publication.models import Publication
from campaign.publication.services import (
    file_records,
    latest_publication,
    publish_if_changed,
    publish_snapshot,
    render_publication_files,
)
from campaign.publication.slots import slot_end, slot_start
from campaign.signatures.models import SignatureStatus
from campaign.signatures.services import confirm_signature, withdraw_signature
from tests.factories import make_petition, make_signature

FIVE_MINUTES = timedelta(minutes=5)
NOON = datetime(2026, 12, 7, 12, 0)


def publications_of(petition) -> int:
    return db.session.scalar(
        select(func.count(Publication.id)).where(Publication.petition_id == petition.id)
    )


def test_a_change_is_published_at_the_end_of_its_slot_never_later_than_the_delay():
    assert slot_end(NOON, FIVE_MINUTES) == NOON + FIVE_MINUTES
    assert slot_end(NOON + timedelta(minutes=4, seconds=59), FIVE_MINUTES) == NOON + FIVE_MINUTES
    assert slot_end(NOON + timedelta(minutes=5), FIVE_MINUTES) == NOON + 2 * FIVE_MINUTES
    assert slot_start(NOON + timedelta(minutes=7), FIVE_MINUTES) == NOON + FIVE_MINUTES
    for seconds in range(0, 900, 7):
        moment = NOON + timedelta(seconds=seconds, microseconds=500)
        assert timedelta(0) < slot_end(moment, FIVE_MINUTES) - moment <= FIVE_MINUTES


def test_changes_in_one_slot_share_one_job_id_and_the_next_slot_gets_another():
    first = publication_job_id(7, slot_end(NOON + timedelta(seconds=10), FIVE_MINUTES))
    same = publication_job_id(7, slot_end(NOON + timedelta(minutes=4), FIVE_MINUTES))
    later = publication_job_id(7, slot_end(NOON + timedelta(minutes=6), FIVE_MINUTES))
    other_petition = publication_job_id(8, slot_end(NOON + timedelta(seconds=10), FIVE_MINUTES))
    assert first == same
    assert len({first, later, other_petition}) == 3


def test_a_changed_list_is_published_once_per_slot(app):
    petition = make_petition()
    make_signature(petition, now=NOON - timedelta(hours=1))
    publish_snapshot(petition, NOON - timedelta(hours=1))
    make_signature(petition, now=NOON + timedelta(minutes=1))

    published = publish_if_changed(petition.id, NOON + FIVE_MINUTES, FIVE_MINUTES)
    assert published is not None and published.entry_count == 2
    # A second worker running the same slot's job, or a change later in the slot.
    make_signature(petition, now=NOON + timedelta(minutes=6))
    assert publish_if_changed(petition.id, NOON + timedelta(minutes=6), FIVE_MINUTES) is None
    assert publications_of(petition) == 2

    later = publish_if_changed(petition.id, NOON + 2 * FIVE_MINUTES, FIVE_MINUTES)
    assert later is not None and later.entry_count == 3 and later.sequence == 3


def test_an_unchanged_list_is_not_published_again(app):
    petition = make_petition()
    make_signature(petition, now=NOON - timedelta(hours=1))
    publish_snapshot(petition, NOON - timedelta(hours=1))
    assert publish_if_changed(petition.id, NOON + FIVE_MINUTES, FIVE_MINUTES) is None
    assert publications_of(petition) == 1


def test_a_withdrawal_is_published_in_the_next_slot(app):
    petition = make_petition()
    leaving = make_signature(petition, now=NOON - timedelta(hours=1))
    make_signature(petition, now=NOON - timedelta(hours=1))
    publish_snapshot(petition, NOON - timedelta(hours=1))
    withdraw_signature(leaving.id, NOON + timedelta(minutes=2))

    published = publish_if_changed(petition.id, NOON + FIVE_MINUTES, FIVE_MINUTES)
    assert published is not None and published.entry_count == 1


def test_the_sweep_publishes_a_change_whose_slot_is_over_and_waits_for_the_others(make_app):
    app = make_app(PUBLICATION_MAX_DELAY=300)
    # After the petition's own last change (its creation, on the real clock).
    noon = slot_start(utcnow() + timedelta(days=1), FIVE_MINUTES)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, now=noon - timedelta(hours=1))
        publish_snapshot(petition, noon - timedelta(hours=1))
        make_signature(petition, now=noon + timedelta(minutes=1))

        # Still in the change's slot: its job is due at noon + 5 min.
        assert publish_stale_lists(noon + timedelta(minutes=3)) == 0
        # The job was lost (Redis flushed): the sweep after that publishes.
        assert publish_stale_lists(noon + timedelta(minutes=5, seconds=30)) == 1
        assert latest_publication(petition.id).entry_count == 2
        assert publish_stale_lists(noon + timedelta(minutes=11)) == 0
        db.session.remove()


def test_fresh_publications_are_off_when_the_delay_is_zero(app):
    petition = make_petition()
    assert schedule_publication(petition.id, utcnow()) is None
    assert publish_stale_lists(utcnow()) == 0


def test_in_process_one_timer_per_petition_and_slot(make_app):
    app = make_app(PUBLICATION_MAX_DELAY=3600)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        pending = [
            make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
            for _ in range(3)
        ]
        now = utcnow()
        for signature in pending:
            confirm_signature(signature.id, now)
        waiting = app.extensions["tribune_timer_ids"]
        assert list(waiting) == [publication_job_id(petition.id, slot_end(now, timedelta(hours=1)))]
        db.session.remove()


def test_in_process_a_confirmed_name_reaches_the_download_without_anyone_publishing(make_app):
    app = make_app(PUBLICATION_MAX_DELAY=1)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, last_name="Ancienne", now=utcnow() - timedelta(hours=1))
        publish_snapshot(petition, utcnow() - timedelta(hours=1))
        newcomer = make_signature(
            petition, last_name="Nouvelle", status=SignatureStatus.PENDING, confirmed_at=None
        )
        slug, petition_id = petition.slug, petition.id
        confirm_signature(newcomer.id, utcnow())
        db.session.remove()

    with app.app_context():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.remove()
            latest = latest_publication(petition_id)
            if latest.sequence == 2:
                break
            time.sleep(0.1)
        assert latest.sequence == 2 and latest.entry_count == 2
        db.session.remove()
    response = app.test_client().get(f"/p/{slug}/signatories.csv", buffered=True)
    assert "Nouvelle" in response.get_data(as_text=True)


def test_in_process_an_edited_line_reaches_the_download_though_no_count_moved(make_app):
    app = make_app(PUBLICATION_MAX_DELAY=1)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        signer = make_signature(petition, last_name="Martin", title="Interne", show_title=True,
                                now=utcnow() - timedelta(hours=1))  # fmt: skip
        publish_snapshot(petition, utcnow() - timedelta(hours=1))
        slug, petition_id = petition.slug, petition.id
        correct_details(signer, "Médecin", "", utcnow())
        latest = wait_for_publication(petition_id, 2, timeout=30)
        assert (latest.signature_count, latest.entry_count) == (1, 1)
        db.session.remove()
    response = app.test_client().get(f"/p/{slug}/signatories.csv", buffered=True)
    assert "Médecin" in response.get_data(as_text=True)


@pytest.mark.redis
def test_on_rq_changes_in_one_slot_schedule_one_job(make_app, redis_url, queue_name):
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name, PUBLICATION_MAX_DELAY=3600)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        now = utcnow()
        for _ in range(3):
            schedule_publication(petition.id, now)
        schedule_publication(petition.id, now + timedelta(hours=1))
        registry = ScheduledJobRegistry(queue=job_queue())
        expected = {
            publication_job_id(petition.id, slot_end(now, timedelta(hours=1))),
            publication_job_id(petition.id, slot_end(now + timedelta(hours=1), timedelta(hours=1))),
        }
        assert set(registry.get_job_ids()) == expected
        job = job_queue().fetch_job(sorted(expected)[0])
        assert job.func_name == "campaign.publication.jobs.publish_fresh_list"
        assert job.args == (petition.id,)
        db.session.remove()


def test_the_files_of_a_superseded_publication_are_left_to_its_downloads(app):
    petition = make_petition()
    make_signature(petition, now=NOON)
    first = publish_snapshot(petition, NOON)
    make_signature(petition, now=NOON + timedelta(minutes=1))
    second = publish_snapshot(petition, NOON + FIVE_MINUTES)
    render_publication_files(first.id)
    assert file_records(first) == {}
    render_publication_files(second.id)
    assert set(file_records(second)) >= {"signatories.csv", "signatories.json"}


def wait_for_publication(petition_id: int, sequence: int, timeout: float = 45) -> Publication:
    """The petition's latest publication once it reaches `sequence` (another process
    publishes it), read afresh."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.remove()
        latest = latest_publication(petition_id)
        if latest is not None and latest.sequence >= sequence:
            return latest
        time.sleep(0.2)
    raise AssertionError(f"no publication {sequence} within {timeout} s")


@pytest.fixture
def fresh_rq_app(make_app, redis_url, queue_name, worker_env):
    worker_env["PUBLICATION_MAX_DELAY"] = "2"
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name, PUBLICATION_MAX_DELAY=2)
    with app.app_context():
        ensure_default_categories()
        yield app
        db.session.remove()


@pytest.mark.redis
def test_on_rq_the_worker_publishes_a_confirmed_name_at_the_end_of_its_slot(fresh_rq_app, worker):
    petition = make_petition()
    make_signature(petition, now=utcnow() - timedelta(hours=1))
    publish_snapshot(petition, utcnow() - timedelta(hours=1))
    newcomer = make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    now = utcnow()
    confirm_signature(newcomer.id, now)
    # Scheduled, or already queued if the 2-second slot ended meanwhile.
    job_id = publication_job_id(petition.id, slot_end(now, timedelta(seconds=2)))
    assert job_queue().fetch_job(job_id) is not None
    # No periodic sweep during the test: the job alone publishes.
    worker.env["OUTBOX_FLUSH_INTERVAL"] = "600"
    worker.start()
    latest = wait_for_publication(petition.id, 2)
    assert latest.entry_count == 2
    assert "publish_fresh_list" in worker.output()


@pytest.mark.redis
def test_on_rq_the_worker_publishes_an_edited_line_at_the_end_of_its_slot(fresh_rq_app, worker):
    petition = make_petition()
    signer = make_signature(petition, last_name="Martin", title="Interne", show_title=True,
                            now=utcnow() - timedelta(hours=1))  # fmt: skip
    publish_snapshot(petition, utcnow() - timedelta(hours=1))
    now = utcnow()
    correct_details(signer, "Médecin", "", now)
    job_id = publication_job_id(petition.id, slot_end(now, timedelta(seconds=2)))
    assert job_queue().fetch_job(job_id) is not None
    worker.env["OUTBOX_FLUSH_INTERVAL"] = "600"
    worker.start()
    latest = wait_for_publication(petition.id, 2)
    assert (latest.entry_count, latest.added_count, latest.removed_count) == (1, 1, 1)


@pytest.mark.redis
def test_on_rq_the_worker_sweep_publishes_what_redis_lost(fresh_rq_app, worker, redis_url):
    import redis

    petition = make_petition()
    make_signature(petition, now=utcnow() - timedelta(hours=1))
    publish_snapshot(petition, utcnow() - timedelta(hours=1))
    leaving = make_signature(petition, now=utcnow() - timedelta(minutes=30))
    publish_snapshot(petition, utcnow() - timedelta(minutes=30))
    withdraw_signature(leaving.id, utcnow())
    redis.Redis.from_url(redis_url).flushdb()
    worker.start()  # OUTBOX_FLUSH_INTERVAL is 1 s in the tests
    latest = wait_for_publication(petition.id, 3)
    assert latest.entry_count == 1 and latest.removed_total == 1
