from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Live boards and task workers"

    def ready(self) -> None:
        from consumers import checks  # noqa: F401  (registers the system checks)
