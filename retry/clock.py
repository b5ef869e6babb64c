"""The database's clock: due times and leases are judged by one clock however many machines run workers."""

from datetime import datetime, timedelta

from django.db import connections
from django.db.models import DateTimeField, Expression, ExpressionWrapper, Value
from django.db.models.functions import Now
from django.utils import timezone


def shares_clock(using: str = "default") -> bool:
    """True where the database runs on a server of its own; SQLite lives in this process and shares its clock."""
    return connections[using].vendor != "sqlite"


def db_now(using: str = "default") -> datetime:
    """The database server's current time."""
    if not shares_clock(using):
        return timezone.now()
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        (now,) = cursor.fetchone()
    return now  # type: ignore[no-any-return]


def now_plus(seconds: float, using: str = "default") -> Expression | Value:
    """An expression for "now + seconds", evaluated by the database inside the statement."""
    if not shares_clock(using):
        return Value(timezone.now() + timedelta(seconds=seconds))
    if seconds == 0:
        return Now()
    return ExpressionWrapper(Now() + Value(timedelta(seconds=seconds)), output_field=DateTimeField())
