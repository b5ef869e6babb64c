"""`manage.py runworker`: the queues a worker serves, from its channels, its --queues or else all of them."""

import pytest

from retry.management.commands import runworker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("channels", "queue_options", "queues"),
    [
        ([], [], ["default", "emails", "webhooks", "maintenance"]),
        (["tasks.emails", "tasks.default"], [], ["emails", "default"]),
        ([], ["webhooks,emails", "emails", " maintenance "], ["webhooks", "emails", "maintenance"]),
        (["tasks.emails"], ["emails"], ["emails"]),
    ],
)
def test_a_worker_runs_the_queues_of_its_channels_or_options_or_else_all(
    channels: list[str], queue_options: list[str], queues: list[str]
) -> None:
    assert runworker.chosen_queues(channels, queue_options) == queues
