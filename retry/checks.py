"""Django system checks: configuration the retry layer cannot run with stops `check`, `runworker`,
`dispatcher` and `serve` before they start, naming the setting at fault."""

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from retry import conf

#: The tag of every check of the retry layer: `project.asgi` runs these before the web process serves.
TAG = "retry"


@checks.register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The RETRY_<NAME> settings have the types and ranges `retry.conf` requires."""
    try:
        conf.get()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="retry.E001")]
    return []
