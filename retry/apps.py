from django.apps import AppConfig


class RetryConfig(AppConfig):
    name = "retry"
    verbose_name = "Tasks"
    default_auto_field = "django.db.models.BigAutoField"
