"""The 60-second soak: a whole cluster behind HAProxy (3 web processes, 2 Redis shards, PostgreSQL, 3 workers,
2 dispatchers, each started with its Procfile command and the production settings) serves orders, boards, staff,
e-mails and webhooks while a web process, a Redis shard, PostgreSQL, a worker and a dispatcher fail in turn.

Runs once, in the first pass: the cluster has its own PostgreSQL and Redis whatever the pass's are.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import cluster
from tests.processes import ROOT

pytestmark = pytest.mark.timeout(400)

#: Seconds each board gets after a fault to show what the database holds again (the boards' resync is 15 s).
EQUAL_WITHIN = 30


def test_the_cluster_serves_every_order_exactly_once_through_faults(tmp_path: Path) -> None:
    try:
        cluster.haproxy_binary()
    except FileNotFoundError as missing:
        pytest.fail(str(missing))
    out = tmp_path / "soak.json"
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    command = [sys.executable, "-m", "benchmarks.soak", str(out), "--seconds", "60", "--rate", "1"]
    command += ["--kitchens", "30", "--pickups", "30", "--staff", "3", "--equal-within", str(EQUAL_WITHIN)]
    command += ["--logs", str(tmp_path / "logs")]
    ran = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=380)
    assert out.exists(), ran.stderr[-3000:]
    result = json.loads(out.read_text())

    once = result["exactly_once"]
    assert once["tasks"] > 100 and once["emails_expected"] > 20 and once["webhooks_expected"] > 50
    failures = {name: count for name, count in once.items() if not name.endswith(("_expected", "tasks")) and count}
    assert failures == {}, result["exactly_once_examples"]
    assert [fault["fault"] for fault in result["faults"]] == [
        "kill -9 a web process",
        "kill a Redis shard",
        "restart PostgreSQL",
        "kill -9 a worker",
        "SIGTERM a dispatcher",
    ]
    assert all(fault["equal_after_s"] is not None for fault in result["faults"]), result["faults"]
    assert result["figures"]["reconnects"]["kill -9 a web process"]["count"] > 0  # its boards came back elsewhere
    assert result["figures"]["answers"].get("201", 0) >= 50
    assert result["verdict"] == {"passed": True, "failures": []}
    assert ran.returncode == 0


@pytest.mark.django_db
def test_an_email_whose_marker_commit_a_restart_ended_is_known_as_maybe_sent() -> None:
    """An attempt of an e-mail task that a database error ended names its e-mail; any other error does not."""
    from django.utils import timezone

    from benchmarks import soak_verdict
    from orders.tasks import send_order_email
    from retry.models import TaskAttempt, TaskRecord

    lost = TaskRecord.objects.get(pk=send_order_email.enqueue(order_id=24, kind="ready").id)
    failed = TaskRecord.objects.get(pk=send_order_email.enqueue(order_id=25, kind="ready").id)
    now = timezone.now()
    for record, error in ((lost, "django.db.utils.OperationalError"), (failed, "smtplib.SMTPServerDisconnected")):
        TaskAttempt.objects.create(
            task=record, number=1, worker_id="w", started_at=now, finished_at=now, outcome="RETRIED", error_class=error
        )
    assert soak_verdict.emails_of_lost_commits() == [(24, "ready")]


def test_an_email_of_a_lost_commit_is_sent_at_least_once_and_any_other_exactly_once() -> None:
    from collections import Counter

    from benchmarks import soak_verdict

    recorded = {(1, "received"), (25, "ready"), (26, "ready"), (27, "ready")}
    got = Counter({(1, "received"): 1, (24, "ready"): 1, (25, "ready"): 2, (26, "ready"): 2, (28, "ready"): 1})
    lost = {(24, "ready"), (25, "ready"), (29, "ready")}
    counts, examples = soak_verdict.emails_once(recorded, got, lost)
    assert counts == {
        "emails_expected": 5,  # the four recorded, and 24: at the sink once, its marker's commit lost
        "emails_of_lost_commits_expected": 2,  # 24 unrecorded, 25's second copy
        "emails_missing": 1,  # 27
        "emails_duplicated": 1,  # 26's second copy
        "emails_unexpected": 1,  # 28
    }
    assert examples == {"emails_missing": [(27, "ready")], "emails_unexpected": [(28, "ready")]}
