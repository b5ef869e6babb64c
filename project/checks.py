"""Django system checks of the project's own environment: the Redis Sentinel variables (project.sentinel).

A problem stops `check`, the workers, the dispatcher and the web process (project.asgi runs these checks before
daphne serves) with one error per problem, naming the variable.
"""

from typing import Any

from django.core import checks

from project import sentinel

#: The tag of these checks.
TAG = "redis"
#: Sentinels below this many cannot both outvote one that is wrong and outlive the loss of one.
MIN_SENTINELS = 3


@checks.register(TAG)
def check_sentinel_variables(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """REDIS_SENTINELS and REDIS_SENTINEL_MASTER read, come together, and name each shard once."""
    return [checks.Error(problem.message, id=problem.check_id) for problem in sentinel.read().problems]


@checks.register(TAG, deploy=True)
def check_sentinel_count(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A deployment runs at least three sentinels, on machines of their own."""
    found = len(sentinel.read().addresses)
    if not 0 < found < MIN_SENTINELS:
        return []
    message = (
        f"{sentinel.SENTINELS} lists {found} sentinel{'s' if found > 1 else ''}: a failover needs a majority of "
        f"the sentinels to agree, so run at least {MIN_SENTINELS}, each where the others' faults do not reach it."
    )
    return [checks.Warning(message, id="project.W001")]
