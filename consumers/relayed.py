"""A consumer whose every message comes through one inbox: its client's, the relay's and its own timers'."""

import asyncio
from collections.abc import Collection
from typing import Any

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from consumers.relay import Inbox, Relay, hand, relay_of


class RelayedConsumer(AsyncConsumer):
    """A consumer whose group events come through the process's relay into its inbox.

    It has no channel of its own: its client's messages, the relay's and its own timers' all reach it
    through its inbox, one at a time, in the order they came. A channel layer that fails only delays its
    group events.
    """

    inbox: Inbox
    relay: Relay
    listening: tuple[str, ...] = ()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels' own __call__ waits on the client and the consumer's channel at once, a task and a wait per
        # message; one queue fed by the client is a fifth of that for each of a thousand boards and each event.
        layer = get_channel_layer(self.channel_layer_alias)
        assert layer is not None, "a relayed consumer needs a channel layer"
        self.scope = scope
        self.channel_layer = layer
        self.relay = relay_of(layer)
        self.inbox = Inbox(self)
        self.base_send = send
        client = asyncio.ensure_future(self.forward(receive))
        try:
            while True:
                message = await self.inbox.get()
                if isinstance(message, BaseException):
                    raise message
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            client.cancel()
            await asyncio.gather(client, return_exceptions=True)
            self.relay.forget(self.inbox)

    async def forward(self, receive: Any) -> None:
        """Put each message of the client in the inbox, and the error if receiving fails."""
        try:
            while True:
                self.inbox.put_nowait(await receive())
        except Exception as error:
            self.inbox.put_nowait(error)

    @classmethod
    def prepare(cls, message: dict[str, Any], inboxes: Collection[Inbox]) -> Collection[asyncio.Future[Any]]:
        """Start the reads a group message needs before consumers of this kind get it (a Prepare); none here."""
        return ()

    async def listen(self, groups: tuple[str, ...]) -> None:
        """Get the events of ``groups`` from the moment this returns."""
        self.listening = groups
        await self.relay.join(self.inbox, groups, type(self).prepare)

    async def stop_listening(self) -> None:
        groups, self.listening = self.listening, ()
        await self.relay.leave(self.inbox, groups)

    def post(self, message: dict[str, Any]) -> None:
        """Put a message of the consumer's own in its inbox, to be handled in turn with the others."""
        hand(self.inbox, message)
