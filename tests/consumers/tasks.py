"""Fixture tasks of the board tests: order tasks take the keyword argument order_id."""

from retry.api import task


class EndpointError(Exception):
    pass


@task(queue_name="emails", max_attempts=5, base_delay=40.0, max_delay=60.0, jitter=0.0)
def send_order_email(order_id: int) -> None:
    raise EndpointError("503 from endpoint")
