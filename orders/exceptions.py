"""Errors raised by the order services; each message can be shown to the person who asked."""


class OrderError(Exception):
    """Root of every order error. Do not raise directly."""


class OrderNotFound(OrderError):
    """Raised when an order or step id names no row."""


class TransitionNotAllowed(OrderError):
    """Raised when an order or step is not in a state that allows the change."""


class StepAlreadyClaimed(TransitionNotAllowed):
    """Raised when a step someone wants to claim is claimed already."""


class StepClaimedByOther(TransitionNotAllowed):
    """Raised when a user releases or finishes a step another user claimed."""


class NotKitchenStaff(OrderError):
    """Raised when someone who is not active kitchen staff tries to work on an order."""


class IdempotencyKeyReused(OrderError):
    """Raised when an Idempotency-Key that placed an order comes again with a different request."""
