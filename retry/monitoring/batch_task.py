"""The task that runs a batch action (retry.monitoring.batches); imported when one is enqueued or run, not before,
as its backend is the default retry backend of TASKS (conf.default_backend)."""

from django.tasks import task
from django.tasks.base import TASK_MAX_PRIORITY

from retry import conf
from retry.monitoring import batches

#: Tasks one attempt goes through at most (200 batches): a continuation carries on, so no attempt nears TIME_LIMIT.
PER_ATTEMPT = 100_000


@task(backend=conf.default_backend(), priority=TASK_MAX_PRIORITY)
def run_batch_action(entry_id: int) -> dict[str, int]:
    """Run the batch action of audit row ``entry_id``: to its end, or PER_ATTEMPT tasks further and then enqueue
    itself to carry on (batches resume after the last batch that committed)."""
    entry = batches.run(entry_id, most=PER_ATTEMPT)
    if entry.state == batches.Running:
        batches.enqueue_task(entry)
    return {"processed": entry.processed, "changed": entry.changed}
