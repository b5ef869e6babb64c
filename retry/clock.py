"""The database's clock: due times and leases are judged by one clock however many machines run workers.

Statements use the database's own ``now()`` (``now_plus``). Times this process needs in hand (an enqueue's
due time, a heartbeat's age) come from ``now``: this process's clock plus its offset to the database's,
measured once and again every RESYNC_EVERY seconds, or at once when this process's clock jumps.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import DateTimeField, Expression, ExpressionWrapper, Func, Value
from django.db.models.functions import Now
from django.utils import timezone

from retry import conf

#: Seconds a measured offset is trusted before it is measured again.
RESYNC_EVERY = 60.0
#: Seconds this process's wall clock may drift from its monotonic clock before the offset is measured again.
JUMP = 1.0


@dataclass(frozen=True)
class Offset:
    """How far the database's clock is ahead of this process's, and when that was measured."""

    ahead: timedelta
    wall: datetime
    monotonic: float

    def holds(self, wall: datetime) -> bool:
        elapsed = time.monotonic() - self.monotonic
        return elapsed < RESYNC_EVERY and abs((wall - self.wall).total_seconds() - elapsed) < JUMP


_offsets: dict[str, Offset] = {}
_lock = threading.Lock()


def shares_clock(using: str | None = None) -> bool:
    """True where the database runs on a server of its own; SQLite lives in this process and shares its clock."""
    return connections[using or conf.database()].vendor != "sqlite"


def db_now(using: str | None = None) -> datetime:
    """The database server's current time (on PostgreSQL, its transaction's start)."""
    using = using or conf.database()
    if not shares_clock(using):
        return timezone.now()
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        (now,) = cursor.fetchone()
    return now  # type: ignore[no-any-return]


def now(using: str | None = None) -> datetime:
    """The database server's current time, without a round trip (but one a minute)."""
    using = using or conf.database()
    wall = timezone.now()
    if not shares_clock(using):
        return wall
    offset = _offsets.get(using)
    if offset is None or not offset.holds(wall):
        offset = _measure(using)
        wall = timezone.now()
    return wall + offset.ahead


def _measure(using: str) -> Offset:
    """The offset to the database's clock, against the end of the round trip that read it.

    The server read its clock before the answer came back, so this never puts this clock ahead of the database's:
    a task enqueued now is due at once. The midpoint of the round trip did, by up to half of it, on a loaded
    machine for as long as the offset held (RESYNC_EVERY): every task enqueued then was not yet due when claimed.
    """
    # clock_timestamp(), not CURRENT_TIMESTAMP: a transaction under way would give its start.
    statement = "SELECT clock_timestamp()" if connections[using].vendor == "postgresql" else "SELECT CURRENT_TIMESTAMP"
    with _lock, connections[using].cursor() as cursor:
        cursor.execute(statement)
        (server,) = cursor.fetchone()
        after = timezone.now()
        offset = _offsets[using] = Offset(server - after, after, time.monotonic())
    return offset


class TransactionNow(Func):
    """``CURRENT_TIMESTAMP``: on PostgreSQL the moment its transaction began, the same in each of its statements."""

    template = "CURRENT_TIMESTAMP"
    output_field = DateTimeField()


#: The one moment a transition stamps its rows with (``moment``).
Moment = datetime | TransactionNow


def moment(using: str | None = None) -> Moment:
    """One moment for every stamp a transition writes, however many statements it takes: its transaction's start
    on PostgreSQL, this process's clock now on SQLite. An attempt that ends and its retry, due ``delay`` later,
    then agree to the microsecond."""
    return TransactionNow() if shares_clock(using or conf.database()) else timezone.now()


def now_plus(seconds: float, using: str | None = None, *, at: Moment | None = None) -> Expression | Value:
    """An expression for "now + seconds", evaluated by the database inside the statement (from ``at`` if given)."""
    using = using or conf.database()
    if not shares_clock(using):
        return Value((at if isinstance(at, datetime) else timezone.now()) + timedelta(seconds=seconds))
    base = at if isinstance(at, TransactionNow) else Now()
    if seconds == 0:
        return base
    return ExpressionWrapper(base + Value(timedelta(seconds=seconds)), output_field=DateTimeField())
