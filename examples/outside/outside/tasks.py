"""Tasks declared with Django's Tasks API: one fails once and then succeeds, one always fails."""

from django.tasks import TaskContext, task


@task(takes_context=True)
def shout(context: TaskContext, word: str) -> str:
    """Fails on its first attempt, as a flaky service would; the retry succeeds."""
    if context.attempt == 1:
        raise ConnectionError("the service did not answer")
    return word.upper()


@task(max_attempts=2)
def doomed() -> None:
    """Fails on every attempt: after two it is a dead letter, FAILED."""
    raise ValueError("this task always fails")
