from datetime import timedelta

from click.testing import CliRunner

from campaign.abuse import SpentChallenge
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.maintenance import claim_daily_run, run_daily_tasks


def test_daily_tasks_run_and_report_counts(app):
    db.session.add(SpentChallenge(digest="a" * 64, expires_at=utcnow() - timedelta(minutes=1)))
    db.session.add(SpentChallenge(digest="b" * 64, expires_at=utcnow() + timedelta(minutes=9)))
    db.session.commit()
    results = run_daily_tasks(utcnow())
    assert results["spent challenges forgotten"] == 1
    assert set(results) == {
        "publications of changed lists",
        "petitions purged of expired personal data",
        "stored files of superseded publications pruned",
        "spent challenges forgotten",
        "reminders of objection letters queued",
        "stored counts repaired",
    }
    assert results["stored counts repaired"] == 0
    assert db.session.get(SpentChallenge, "b" * 64) is not None


def test_the_daily_run_is_claimed_by_one_worker_a_day(make_app, redis_url, queue_name):
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    with app.app_context():
        now = utcnow()
        assert claim_daily_run(now) is True
        assert claim_daily_run(now) is False
        assert claim_daily_run(now + timedelta(days=1)) is True


def test_maintenance_command(app):
    result = CliRunner().invoke(app.cli, ["maintenance", "daily"], obj=None)
    assert result.exit_code == 0, result.output
    assert "spent challenges forgotten" in result.output
