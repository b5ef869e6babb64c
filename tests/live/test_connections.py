"""The web process's database connections: requests each run in a thread of their own under daphne, yet they
share a few connections instead of leaving one open per request."""

import asyncio
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from tests.live.conftest import Daphne

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

APPLICATION = "scoopboard-web-under-test"
DAPHNE_ENV = {"PGAPPNAME": APPLICATION, "DATABASE_POOL_SIZE": "4"}


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


@sync_to_async
def web_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APPLICATION])
        (count,) = cursor.fetchone()
    return int(count)


async def test_many_requests_share_the_pool_s_few_connections(live: Daphne) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("connections held open per request are a server database's matter")
    url = f"http://127.0.0.1:{live.port}/healthz"
    for _ in range(3):  # bursts of requests at once, then one after another
        assert await asyncio.gather(*(asyncio.to_thread(get, url) for _ in range(12))) == [200] * 12
    for _ in range(30):
        assert await asyncio.to_thread(get, url) == 200
    assert 1 <= await web_connections() <= 4
