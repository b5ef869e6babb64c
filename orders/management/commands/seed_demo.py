"""Demo accounts and orders for a fresh database; does nothing once there is data."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from orders import services
from orders.models import Flavour, Order, Size, StaffProfile, Step

KITCHEN_PERMISSIONS = ["view_order", "change_order", "view_step", "change_step", "view_staffprofile"]
#: The kitchen's two cooks and their habits: both scoop first, then one decorates and the other spreads.
COOKS = {"ana": "scoop,decorate,spread", "ben": "scoop,spread,decorate"}
DEMO_ORDERS = [
    ("Ada Lovelace", "ada@example.com", Flavour.PISTACHIO, Size.MEDIUM, "Happy birthday, Ada!"),
    ("Grace Hopper", "grace@example.com", Flavour.CHOCOLATE, Size.LARGE, "Welcome aboard"),
    ("Alan Turing", "alan@example.com", Flavour.STRAWBERRY, Size.SMALL, ""),
    ("Katherine Johnson", "katherine@example.com", Flavour.MANGO, Size.MEDIUM, "Go team!"),
]


class Command(BaseCommand):
    help = "Create two cooks, an admin account and four demo orders when the database is empty."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.exists() or Order.objects.exists():
            self.stdout.write("seed_demo: the database already has users or orders; nothing was created.")
            return
        with transaction.atomic():
            passwords = {username: self.create_cook(username, habits) for username, habits in COOKS.items()}
            _admin, passwords["admin"] = self.create_user("admin", is_staff=True, is_superuser=True)
            orders = [services.place_order(**demo_fields(*demo)) for demo in DEMO_ORDERS]
            advance(orders, *(users.get(username=username) for username in COOKS))
        self.report(passwords, orders)

    def create_user(self, username: str, *, is_staff: bool = False, is_superuser: bool = False) -> tuple[User, str]:
        password = secrets.token_urlsafe(12)
        user = get_user_model().objects.create_user(
            username, password=password, is_staff=is_staff, is_superuser=is_superuser
        )
        return user, password

    def create_cook(self, username: str, habits: str) -> str:
        """A kitchen staff member who takes the steps named in ``habits`` first; returns the password."""
        cook, password = self.create_user(username, is_staff=True)
        cook.user_permissions.set(Permission.objects.filter(codename__in=KITCHEN_PERMISSIONS))
        StaffProfile.objects.create(user=cook, preferred_steps=habits)
        return password

    def report(self, passwords: dict[str, str], orders: list[Order]) -> None:
        line = "=" * 72
        self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo accounts (the passwords are shown only this once):"))
        for username, habits in COOKS.items():
            first = ", ".join(habits.split(","))
            self.stdout.write(f"  cook           username: {username:5}  password: {passwords[username]}  ({first})")
        self.stdout.write(f"  administrator  username: admin  password: {passwords['admin']}")
        self.stdout.write(f"Demo orders: {', '.join(order.label for order in orders)}")
        self.stdout.write(line)


def demo_fields(name: str, email: str, flavour: str, size: str, message: str) -> dict[str, str]:
    return {"customer_name": name, "customer_email": email, "flavour": flavour, "size": size, "message": message}


def advance(orders: list[Order], ana: AbstractBaseUser, ben: AbstractBaseUser) -> None:
    """The first two orders in progress with every scoop taken, so that "Next for me" sends Ana to decorate and Ben
    to spread the first; the third ready, the fourth delivered."""
    services.finish_step(services.claim_step(orders[0].steps.get(kind=Step.Kind.SCOOP).pk, ana).pk, ana)
    services.claim_step(orders[1].steps.get(kind=Step.Kind.SCOOP).pk, ben)
    for order in orders[2:]:
        for step in order.steps.all():
            cook = ben if step.kind == Step.Kind.SPREAD else ana
            services.claim_step(step.pk, cook)
            services.finish_step(step.pk, cook)
    services.mark_delivered(orders[3].pk, ana)
