"""The task worker process: what it sets up for itself before it takes tasks."""

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from retry.worker.process import configure_process, relax_commits

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def test_worker_processes_let_postgresql_commits_return_before_the_disk_flush() -> None:
    if connections["default"].vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    configure_process()
    try:
        connection = connections.create_connection("default")
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("off",)
        connection.close()
    finally:
        connection_created.disconnect(relax_commits, dispatch_uid="retry.worker.process.relax_commits")
