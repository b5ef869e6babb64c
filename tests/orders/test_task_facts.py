"""How the kitchen names an order's background tasks: pure, no database."""

import pytest

from orders.task_facts import task_label


@pytest.mark.parametrize(
    ("path", "kind", "label"),
    [
        ("orders.tasks.send_order_email", "ready", "e-mail (ready)"),
        ("orders.tasks.send_order_email", None, "e-mail"),
        ("orders.tasks.deliver_webhook", None, "webhook"),
        ("orders.tasks.print_label", "", "print label"),
        ("orders.tasks.mail_receipt", 3, "e-mail"),  # a kind that is no text is left out
    ],
)
def test_task_label(path: str, kind: str | int | None, label: str) -> None:
    assert task_label(path, kind) == label
