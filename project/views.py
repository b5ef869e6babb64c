import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static

from retry import heartbeats

#: Seconds the channel layer gets to hand a message back.
LAYER_TIMEOUT = 2.0


async def healthz(request: HttpRequest) -> JsonResponse:
    """Database and channel layer reachability (503 when either fails) and the dispatcher's last pass."""
    database, dispatcher = await sync_to_async(check_database)()
    layer = await check_channel_layer()
    healthy = database == "ok" and layer == "ok"
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "channel_layer": layer,
        "dispatcher": dispatcher,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def check_database() -> tuple[str, dict[str, Any] | None]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok", heartbeats.dispatcher_status()
    except Exception as error:  # any driver error means "not healthy"
        return f"error: {error.__class__.__name__}", None


async def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "error: no channel layer configured"
    try:
        # The default prefix: channels-redis reads every process-local channel through one shared name.
        channel = await layer.new_channel()
        # Through a group, as the boards' events come: with shards, channels-redis sends straight to a process's
        # channel on the shard of its full name but reads it from the shard of its prefix, so a ping sent with
        # layer.send would be lost whenever the two differ; a group message goes to the shard it is read from.
        group = f"healthz.{channel.rsplit('!', 1)[-1]}"
        await layer.group_add(group, channel)
        try:
            await layer.group_send(group, {"type": "healthz.ping"})
            await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT)
        finally:
            await layer.group_discard(group, channel)
    except Exception as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """The site's icon, for pages (the admin's) that name none and browsers that ask for /favicon.ico."""
    return HttpResponseRedirect(static("orders/favicon.svg"))
