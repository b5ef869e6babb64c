"""The trivial task on django-tasks-db's DatabaseBackend (the "tasks_db" alias of benchmarks.settings' TASKS)."""

from django.tasks import task

from benchmarks import proof

BACKEND = "tasks_db"


@task(backend=BACKEND)
def touch(number: int) -> None:
    proof.mark(number)
