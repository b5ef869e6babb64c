"""What fixture tasks do, written where the tests can count it: runs, and effects that must happen once."""

from django.db import models


class Run(models.Model):
    """One call of a fixture task (duplicates show here)."""

    key = models.CharField(max_length=100, db_index=True)
    worker = models.CharField(max_length=100, blank=True)

    # Declared for the type checker, which reads project.settings, where this test app is not installed.
    objects: models.Manager["Run"] = models.Manager()

    def __str__(self) -> str:
        return f"run of {self.key} by {self.worker}"


class Effect(models.Model):
    """A side effect guarded by its key: a second one is refused by the database."""

    key = models.CharField(max_length=100, unique=True)

    objects: models.Manager["Effect"] = models.Manager()

    def __str__(self) -> str:
        return f"effect {self.key}"
