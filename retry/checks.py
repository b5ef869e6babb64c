"""Django system checks: configuration the retry layer cannot run with stops `check`, `runworker`,
`dispatcher` and `serve` before they start, naming the setting at fault."""

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from retry import conf

#: The tag of every check of the retry layer; an ASGI module can run these before daphne serves (daphne runs none).
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
    from retry import (
        schedules,  # imports the models: not before the apps are loaded (an ASGI module may import this first)
    )

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
        if (problem := schedules.problem(spec, name))
    ]


@checks.register(TAG)
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each retry backend's OPTIONS are valid, each queue belongs to one backend, the task rows to one database."""
    from django.conf import settings

    try:
        conf.get()
    except ImproperlyConfigured:
        return []  # check_settings names it
    errors = [problem for alias in conf.backends() for problem in conf.option_problems(alias)]
    owners: dict[str, list[str]] = {}
    for alias, backend in conf.backends().items():
        for queue in backend.queues:
            owners.setdefault(queue, []).append(alias)
    errors += [
        f"The queue {queue!r} belongs to several retry backends ({', '.join(sorted(aliases))}); give each its own."
        for queue, aliases in sorted(owners.items())
        if len(aliases) > 1
    ]
    errors += [
        f"TASKS[{alias!r}]['QUEUES'] is empty: Django takes that as any queue, and no worker would serve them; "
        "name the queues."
        for alias, backend in conf.backends().items()
        if not backend.queues
    ]
    options = [backend.options for backend in conf.backends().values() if isinstance(backend.options, dict)]
    databases = {str(option.get(conf.DATABASE, "default")) for option in options}
    if len(databases) > 1:
        errors.append(f"The retry backends' DATABASE options differ ({', '.join(sorted(databases))}); use one.")
    elif databases and (database := databases.pop()) != "default":
        if database not in settings.DATABASES:
            errors.append(f"The retry backends' DATABASE option names {database!r}, which DATABASES does not have.")
        elif "retry.routers.TaskRouter" not in settings.DATABASE_ROUTERS:
            errors.append(f"The task rows live in {database!r}: add 'retry.routers.TaskRouter' to DATABASE_ROUTERS.")
    return [checks.Error(error, id="retry.E003") for error in errors]


@checks.register(TAG)
def check_redis_batch(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The default channel layer is channels-redis' and the batched task send was verified with its release."""
    from channels import DEFAULT_CHANNEL_LAYER
    from django.conf import settings
    from django.utils.module_loading import import_string

    from retry import redis_batch

    backend = getattr(settings, "CHANNEL_LAYERS", {}).get(DEFAULT_CHANNEL_LAYER, {}).get("BACKEND")
    try:
        layer_class = import_string(backend) if backend else None
    except ImportError:
        return []  # Channels itself refuses the layer when it is first used
    if layer_class is None or not redis_batch.sends_as_redis(layer_class):
        return []
    problem = redis_batch.unsupported()
    if problem is None:
        return []
    message = f"{problem}: task messages go through the channel layer's send, one at a time."
    hint = f"Pin channels-redis to a verified release ({', '.join(f'{s}.x' for s in redis_batch.VERIFIED)})."
    return [checks.Warning(message, hint=hint, id="retry.W001")]


@checks.register(TAG)
def check_feed_path(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """RETRY_FEED_PATH is a path the dashboard's feed can be routed at and its page can connect to."""
    from retry import routing  # imports the consumers: not before the apps are loaded

    try:
        problem = routing.path_problem(conf.get().FEED_PATH)
    except ImproperlyConfigured:
        return []  # check_settings names it
    return [checks.Error(problem, id="retry.E004")] if problem else []
