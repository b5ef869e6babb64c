"""The database router that keeps the task rows in the database the retry backends' DATABASE option names.

Add ``"retry.routers.TaskRouter"`` to DATABASE_ROUTERS when that option names another database than
``default``; a system check (retry.E003) says so when it is missing.
"""

from typing import Any

from retry import conf

APP_LABEL = "retry"


class TaskRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return conf.database() if model._meta.app_label == APP_LABEL else None

    db_for_write = db_for_read

    def allow_relation(self, first: Any, second: Any, **hints: Any) -> bool | None:
        labels = {first._meta.app_label, second._meta.app_label}
        return True if labels == {APP_LABEL} else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == conf.database() if app_label == APP_LABEL else None
