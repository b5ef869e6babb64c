"""One channel's task messages handed to the channel layer, and what the layer refused.

On channels-redis they go in batches of one round trip each (retry/redis_batch.py); on any other layer, or a
channels-redis release the batch send does not serve, one at a time through the layer's public ``send``, in
order, each refusal (ChannelFull, ConnectionError, ...) counted for its own message.
"""

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from channels.exceptions import ChannelFull

from retry import redis_batch

logger = logging.getLogger("retry.layer_send")

OnFailure = Callable[[BaseException], object]
Send = tuple[str, dict[str, Any], OnFailure]
Gate = AbstractAsyncContextManager[Any]


async def send_each(layer: Any, channel: str, messages: list[dict[str, Any]], gate: Gate) -> list[BaseException | None]:
    """Send every message; for each, in order, what refused it (None: sent)."""
    outcomes: list[BaseException | None] = []
    if redis_batch.supports(layer, channel):
        for start in range(0, len(messages), redis_batch.MAX_BATCH):
            outcomes += await _send_batch(layer, channel, messages[start : start + redis_batch.MAX_BATCH], gate)
        return outcomes
    for message in messages:
        try:
            async with gate:
                await layer.send(channel, message)
        except Exception as error:  # ChannelFull, ConnectionError, TimeoutError, ...
            outcomes.append(error)
        else:
            outcomes.append(None)
    return outcomes


async def send_until_refused(
    layer: Any, channel: str, messages: list[dict[str, Any]], gate: Gate
) -> tuple[int, BaseException | None]:
    """Send in order until the layer refuses one; how many went, and the refusal if any."""
    sent = 0
    try:
        async with gate:
            if redis_batch.supports(layer, channel):
                for start in range(0, len(messages), redis_batch.MAX_BATCH):
                    chunk = messages[start : start + redis_batch.MAX_BATCH]
                    added = await redis_batch.send_many(layer, channel, chunk)
                    sent += added
                    if added < len(chunk):
                        return sent, ChannelFull()
            else:
                for message in messages:
                    await layer.send(channel, message)
                    sent += 1
    except Exception as error:  # ChannelFull, ConnectionError, TimeoutError, ...
        return sent, error
    return sent, None


async def _send_batch(
    layer: Any, channel: str, messages: list[dict[str, Any]], gate: Gate
) -> list[BaseException | None]:
    try:
        async with gate:
            added = await redis_batch.send_many(layer, channel, messages)
    except Exception as error:  # ConnectionError, TimeoutError, ...
        return [error] * len(messages)
    return [None] * added + [ChannelFull()] * (len(messages) - added)


def report_refused(refused: list[tuple[Send, BaseException]]) -> None:
    """Log each refused message and run its ``on_failure``, so the dispatcher sends it again."""
    for (channel, message, on_failure), error in refused:
        logger.warning(
            "Could not send task message; the dispatcher will send it again",
            extra={"task_id": message.get("id"), "channel": channel, "error": repr(error)},
        )
        try:
            on_failure(error)
        except Exception:
            logger.exception("Could not mark a refused task message", extra={"task_id": message.get("id")})
