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


@checks.register(TAG)
def check_periodic(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each RETRY_PERIODIC entry names a task of the retry backend, one valid period and its arguments."""
    from retry import schedules  # imports the models: not before the apps are loaded (project.asgi imports this)

    try:
        periodic: object = conf.get().PERIODIC
    except ImproperlyConfigured:
        return []  # check_settings names it
    if periodic is None:
        return []
    if not isinstance(periodic, dict):
        message = f"RETRY_PERIODIC must be a dict of {{name: entry}}, not a {type(periodic).__name__}."
        return [checks.Error(message, id="retry.E002")]
    return [
        checks.Error(f"RETRY_PERIODIC[{name!r}]: {problem}", id="retry.E002")
        for name, spec in periodic.items()
        if (problem := schedules.problem(spec))
    ]


@checks.register(TAG)
def check_feed_path(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """RETRY_FEED_PATH is a path the dashboard's feed can be routed at and its page can connect to."""
    from retry import routing  # imports the consumers: not before the apps are loaded

    try:
        problem = routing.path_problem(conf.get().FEED_PATH)
    except ImproperlyConfigured:
        return []  # check_settings names it
    return [checks.Error(problem, id="retry.E003")] if problem else []
