"""The audit log: every operator action writes its row (who, what, targets, how many, when); purges and
housekeeping leave the log alone; the admin shows it and lets nobody change it."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry import clock, housekeeping
from retry.models import AuditEntry, TaskRecord
from retry.monitoring import batches, operations, search
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def static_root(settings: Settings, tmp_path: Path) -> None:
    settings.STATIC_ROOT = tmp_path  # WhiteNoise warns about a missing one, and warnings fail tests


def targets_for(kind: str) -> list[str]:
    """A target of each kind ACTIONS names: ids of a dead task, a task path, a queue."""
    if kind == "ids":
        return [str(task(status=Status.FAILED, finished=5).pk)]
    return {"paths": ["tests.tasks.record"], "queues": ["emails"]}[kind]


@pytest.mark.parametrize("action", sorted(operations.ACTIONS))
def test_every_operator_action_writes_its_audit_row(action: str) -> None:
    function, kind = operations.ACTIONS[action]
    targets = targets_for(kind)
    before = clock.now()
    changed = function(targets, "olga")
    entry = AuditEntry.objects.get()
    assert (entry.operator, entry.action, entry.changed, entry.total) == ("olga", action, changed, len(targets))
    assert list(entry.targets.values()) == [targets]
    assert before - timedelta(seconds=1) <= entry.at <= clock.now() + timedelta(seconds=1)
    assert entry.state == AuditEntry.State.DONE and entry.filter is None


def test_a_long_list_of_targets_is_kept_short_with_its_count() -> None:
    ids = [str(task(status=Status.FAILED, finished=5).pk) for _ in range(operations.TARGETS_KEPT + 5)]
    assert operations.retry_now(ids, "olga") == len(ids)
    entry = AuditEntry.objects.get()
    assert entry.targets == {"task_ids": ids[: operations.TARGETS_KEPT], "task_ids_count": len(ids)}
    assert (entry.total, entry.changed) == (len(ids), len(ids))


def test_a_batch_action_is_one_row_with_its_filter_and_how_many_it_changed() -> None:
    for _ in range(3):
        task("emails", Status.FAILED, finished=5)
    entry = batches.start("purge", search.read({"queue": ["emails"]}), "olga", enqueue=False)
    batches.run(entry.pk)
    entry.refresh_from_db()
    assert (entry.action, entry.filter, entry.total, entry.changed, entry.state) == (
        "purge",
        {"queue": ["emails"]},
        3,
        3,
        AuditEntry.State.DONE,
    )
    assert AuditEntry.objects.count() == 1  # its batches wrote no rows of their own


def test_purges_and_housekeeping_leave_the_audit_log_alone(settings: Settings) -> None:
    settings.RETRY_RESULT_RETENTION = 1
    settings.RETRY_FAILED_RETENTION = 1
    record = task(status=Status.FAILED, finished=5)
    operations.retry_now([str(record.pk)], "olga")
    TaskRecord.objects.filter(pk=record.pk).update(status=Status.FAILED)  # dead again, to be purged
    operations.purge([str(record.pk)], "olga")
    task(status=Status.SUCCESSFUL, finished=5)
    old = AuditEntry.objects.create(at=clock.now() - timedelta(days=400), operator="old", action="cancel")
    housekeeping.sweep(clock.now() + timedelta(days=400))
    assert not TaskRecord.objects.exists()
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {"retry_now", "purge", "cancel"}
    assert AuditEntry.objects.filter(pk=old.pk).exists()


def test_the_admin_shows_the_log_and_lets_nobody_change_it(admin_client: Client) -> None:
    operations.cancel([str(task().pk)], "olga")
    entry = AuditEntry.objects.get()
    listing = admin_client.get(reverse("admin:retry_auditentry_changelist"))
    assert listing.status_code == 200 and "olga" in listing.content.decode()
    page = admin_client.get(reverse("admin:retry_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:retry_auditentry_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:retry_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert (
        admin_client.post(reverse("admin:retry_auditentry_change", args=[entry.pk]), {"operator": "x"}).status_code
        == 403
    )
    assert AuditEntry.objects.get().operator == "olga"
