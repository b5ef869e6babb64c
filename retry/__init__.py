"""Durable tasks behind Django's Tasks API, run by Channels workers (distribution: django-channels-retry).

The modules follow a task's journey:

1. Enqueue: ``task`` (the ``@task`` options), ``backend`` (the row, written in the caller's transaction),
   ``arguments`` (what may be stored), ``registry`` and ``policy`` (which retry policy applies), ``api``,
   ``bulk`` (thousands at once).
2. Messages: ``messages`` (a channel per queue, a message per task id, sent after commit), ``outbox`` (sends
   that never block or raise into the caller), ``layer_send`` and ``redis_batch`` (one round trip per batch).
3. The worker: ``worker/`` (``process``, ``consumer``, ``runner`` with its ``claiming`` and ``lifecycle``,
   ``attempt``, ``cancelling``, ``results``, ``gate``, ``threads``, ``batcher``); ``embedded`` runs it inside the
   web process.
4. The state machine: ``transitions/`` (``attempts``, ``cancelling``, ``dispatching``, ``operator``, ``rows``), the
   only writer of a task's status, which sends no task message; ``sql``, the hot path's statements; ``models``.
5. Events: ``events`` (log line, live event, Django's task signals in ``signals``, Sentry in ``logs``).
6. The dispatcher: ``dispatcher`` (due messages, lost leases, deadlines), ``schedules`` (periodic tasks, from
   their table), ``housekeeping`` (purges), ``heartbeats``, ``clock`` (the database's time).
7. Monitoring: ``monitoring/`` (``stats`` and ``figures``, ``metrics``, ``alarms``, ``operations``, the
   ``dashboard`` page and its ``feed`` with its ``frames`` and group ``subscription``, the schedules page
   ``timetable``); ``admin`` and ``forms`` (policy overrides), ``schedule_admin``.

A project wires it with ``TASKS``, ``retry.routing`` and, for task rows in a database of their own,
``retry.routers``; ``conf`` and ``checks`` read and check the settings; ``exceptions`` and ``text`` (what any
database column stores) serve every stage.
"""

__version__ = "0.1.0"
