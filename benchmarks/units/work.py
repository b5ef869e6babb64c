"""The task whose costs are measured: it does nothing, so every cost counted is the task layer's own."""

from django.tasks import task


@task()
def nothing(number: int) -> int:
    return number
