"""The customer e-mails of an order, each sent at most once per order and kind (see README: Background work)."""

import smtplib

from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders.models import Order
from retry.policy import GiveUp

#: Each kind of e-mail, and the order field that records when it went out.
MARKERS = {"received": "received_notified_at", "ready": "ready_notified_at", "cancelled": "cancelled_notified_at"}


def send_order_email(order_id: int, kind: str) -> bool:
    """Send the order's `kind` e-mail unless it went out already or is no longer due; True if this call sent it.

    The done marker is set in the transaction that sends: an SMTP error rolls it back for the retry, and a
    duplicate task waits on the row lock, then finds the marker set. If the commit fails after the SMTP server
    took the message, the retry sends it again: at least once, with the same Message-ID.
    """
    marker = marker_of(kind)
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise GiveUp(f"There is no order with id {order_id}.")
    message = compose(order, kind)
    with transaction.atomic():
        claimed = Order.objects.email_not_sent(kind).filter(pk=order_id).update(**{marker: timezone.now()})
        if not claimed:
            return False
        deliver(message)
    return True


def marker_of(kind: str) -> str:
    try:
        return MARKERS[kind]
    except KeyError:
        raise GiveUp(f"{kind!r} is not an order e-mail; the kinds are {', '.join(MARKERS)}.") from None


def compose(order: Order, kind: str) -> EmailMessage:
    """The e-mail from the plain-text templates orders/emails/<kind>_subject.txt and <kind>_body.txt."""
    context = {"order": order}
    subject = " ".join(render_to_string(f"orders/emails/{kind}_subject.txt", context).split())
    body = render_to_string(f"orders/emails/{kind}_body.txt", context)
    # A Message-ID of its own per order and kind lets mail clients fold the rare second copy into the first.
    headers = {"Message-ID": f"<order-{order.pk}-{kind}@{DNS_NAME}>"}
    return EmailMessage(subject, body, to=[order.customer_email], headers=headers)


def deliver(message: EmailMessage) -> None:
    """Hand the message to the mail server; a refusal of this message itself gives up, the rest are retried."""
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        if all(code >= 500 for code, _ in error.recipients.values()):
            raise GiveUp(f"the mail server refused the recipient: {error.recipients}") from error
        raise
    except smtplib.SMTPDataError as error:
        if error.smtp_code >= 500:
            raise GiveUp(f"the mail server refused the message: {error.smtp_code} {error.smtp_error!r}") from error
        raise
