from django.apps import AppConfig


class RetryConfig(AppConfig):
    name = "retry"
    verbose_name = "Tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retry import checks  # noqa: F401  (registers the system checks)
