"""Which pages may open a socket: the whole Origin, scheme and port included, against real daphne."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets

from tests.live.conftest import Daphne, receive

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

DAPHNE_ENV = {"CSRF_TRUSTED_ORIGINS": "https://kiosk.example,https://*.shop.example"}


def origins_of(port: int) -> dict[str, bool]:
    """Each Origin a client may send, and whether the socket opens for it."""
    return {
        f"http://127.0.0.1:{port}": True,  # the socket's own
        f"https://127.0.0.1:{port}": False,  # another scheme
        "http://127.0.0.1:1": False,  # another port
        f"http://localhost:{port}": False,  # another host, though an allowed one
        "https://kiosk.example": True,  # trusted
        "http://kiosk.example": False,
        "https://kiosk.example:8443": False,
        "https://till.shop.example": True,  # a trusted subdomain
        "http://till.shop.example": False,
        "https://evil.example": False,
        "null": False,
    }


@pytest.mark.parametrize("path", ["/ws/pickup/", "/ws/kitchen/"])
async def test_only_the_whole_own_or_trusted_origin_opens_a_socket(
    live: Daphne, staff: Callable[..., Awaitable[Any]], path: str
) -> None:
    alice = await staff("alice")
    for origin, opens in origins_of(live.port).items():
        try:
            client = await live.connect(path, alice, origin=origin)
        except websockets.InvalidStatus as refusal:
            assert not opens and refusal.response.status_code == 403, origin
        else:
            assert opens, origin
            assert (await receive(client))["type"] == "snapshot"
            await client.close()


async def test_a_socket_without_an_origin_is_refused(live: Daphne) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await live.connect("/ws/pickup/", origin=None)
