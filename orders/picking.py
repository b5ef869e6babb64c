"""Which step a staff member does next: the kind they prefer most, from the oldest order that still needs it."""

from django.contrib.auth.models import AbstractBaseUser

from orders import services
from orders.exceptions import StepAlreadyClaimed
from orders.models import Order, StaffProfile, Step

#: Times to pick again when someone else claims the picked step first.
PICK_ATTEMPTS = 3


def step_order_of(user: AbstractBaseUser) -> list[str]:
    """The user's preferred step kinds first (from their staff profile), then the rest."""
    profile = StaffProfile.objects.filter(user_id=user.pk).first() or StaffProfile(user_id=user.pk)
    return profile.step_order


def next_step_for(user: AbstractBaseUser) -> Step | None:
    """The to-do step the user should take next, or None when every step is taken."""
    todo = Step.objects.todo().filter(order__status__in=[Order.Status.RECEIVED, Order.Status.IN_PROGRESS])
    for kind in step_order_of(user):
        step = todo.filter(kind=kind).order_by("order__created_at", "order_id").first()
        if step is not None:
            return step
    return None


def claim_next_step(user: AbstractBaseUser) -> Step | None:
    """Claim the user's next step; None when nothing is left to do."""
    for attempt in range(PICK_ATTEMPTS):
        step = next_step_for(user)
        if step is None:
            return None
        try:
            return services.claim_step(step.pk, user)
        except StepAlreadyClaimed:
            if attempt == PICK_ATTEMPTS - 1:
                raise
    return None
