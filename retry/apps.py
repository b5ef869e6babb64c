from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class RetryConfig(AppConfig):
    name = "retry"
    verbose_name = "Tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retry import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(load_schedules, sender=self, dispatch_uid="retry.apps.load_schedules")


def load_schedules(sender: Any, using: str, **kwargs: Any) -> None:
    """After migrate, RETRY_PERIODIC is in the schedules table (a dispatcher loads it again when it starts)."""
    from retry import conf, schedules
    from retry.models import Schedule

    if using == conf.database() and Schedule._meta.db_table in connections[using].introspection.table_names():
        schedules.load_settings()
