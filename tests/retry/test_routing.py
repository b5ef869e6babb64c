"""What a project adds to its ASGI router: a channel per task queue, each served by the task worker's consumer."""

import pytest

from retry import conf, routing

pytestmark = pytest.mark.services


def test_every_queue_has_its_channel_and_the_worker_behind_it() -> None:
    routes = routing.channel_routes()
    assert set(routes) == {conf.get().CHANNEL_PREFIX + queue for queue in conf.queues()}
    assert {route.consumer_class.__name__ for route in routes.values()} == {"TaskWorkerConsumer"}
