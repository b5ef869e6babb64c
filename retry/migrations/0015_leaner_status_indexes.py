"""The status indexes leave out successful rows, finished_at leaves out unfinished ones, and retry_task_ready goes.

On PostgreSQL each new index is built CONCURRENTLY before the one it replaces is dropped (CONCURRENTLY too), so
enqueues and claims go on while a large task table is re-indexed; other databases build them plainly.
"""

from django.db import migrations, models

NOT_SUCCEEDED = models.Q(("status__in", ["READY", "RUNNING", "FAILED"]))
ADDED = [
    models.Index(condition=models.Q(("finished_at__isnull", False)), fields=["finished_at"], name="retry_task_finished_at"),
    models.Index(condition=NOT_SUCCEEDED, fields=["task_path", "status"], name="retry_task_path_unsucceeded"),
    models.Index(condition=NOT_SUCCEEDED, fields=["status", "queue"], name="retry_task_queue_unsucceeded"),
]
REMOVED = [
    models.Index(condition=models.Q(("status", "READY")), fields=["run_after"], name="retry_task_ready"),
    models.Index(fields=["finished_at"], name="retry_task_finished"),
    models.Index(fields=["task_path", "status"], name="retry_task_path_status"),
    models.Index(fields=["status", "queue"], name="retry_task_status_queue"),
]


def replace(schema_editor, model, added, removed):
    options = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
    for index in added:
        schema_editor.add_index(model, index, **options)
    for index in removed:
        schema_editor.remove_index(model, index, **options)


def forwards(apps, schema_editor):
    replace(schema_editor, apps.get_model("retry", "TaskRecord"), ADDED, REMOVED)


def backwards(apps, schema_editor):
    replace(schema_editor, apps.get_model("retry", "TaskRecord"), REMOVED, ADDED)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("retry", "0014_audit_interrupted"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                *(migrations.RemoveIndex(model_name="taskrecord", name=index.name) for index in REMOVED),
                *(migrations.AddIndex(model_name="taskrecord", index=index) for index in ADDED),
            ],
        ),
    ]
