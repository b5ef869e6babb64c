"""Demo accounts and orders for a fresh database; does nothing once there is data."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from orders import services
from orders.models import Flavour, Order, Size, StaffProfile, Step

KITCHEN_PERMISSIONS = ["view_order", "change_order", "view_step", "change_step", "view_staffprofile"]
DEMO_ORDERS = [
    ("Ada Lovelace", "ada@example.com", Flavour.PISTACHIO, Size.MEDIUM, "Happy birthday, Ada!"),
    ("Grace Hopper", "grace@example.com", Flavour.CHOCOLATE, Size.LARGE, "Welcome aboard"),
    ("Alan Turing", "alan@example.com", Flavour.STRAWBERRY, Size.SMALL, ""),
    ("Katherine Johnson", "katherine@example.com", Flavour.MANGO, Size.MEDIUM, "Go team!"),
]


class Command(BaseCommand):
    help = "Create a kitchen account, an admin account and four demo orders when the database is empty."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.exists() or Order.objects.exists():
            self.stdout.write("seed_demo: the database already has users or orders; nothing was created.")
            return
        with transaction.atomic():
            kitchen, kitchen_password = self.create_user("kitchen", is_staff=True)
            kitchen.user_permissions.set(Permission.objects.filter(codename__in=KITCHEN_PERMISSIONS))
            StaffProfile.objects.create(user=kitchen, preferred_steps="scoop,decorate,spread")
            _admin, admin_password = self.create_user("admin", is_staff=True, is_superuser=True)
            orders = [services.place_order(**demo_fields(*demo)) for demo in DEMO_ORDERS]
            advance(orders, kitchen)
        self.report(kitchen_password, admin_password, orders)

    def create_user(self, username: str, **flags: bool):
        password = secrets.token_urlsafe(12)
        user = get_user_model().objects.create_user(username, password=password, **flags)
        return user, password

    def report(self, kitchen_password: str, admin_password: str, orders: list[Order]) -> None:
        line = "=" * 64
        self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo accounts (the passwords are shown only this once):"))
        self.stdout.write(f"  kitchen staff  username: kitchen  password: {kitchen_password}")
        self.stdout.write(f"  administrator  username: admin    password: {admin_password}")
        self.stdout.write(f"Demo orders: {', '.join(order.label for order in orders)}")
        self.stdout.write(line)


def demo_fields(name: str, email: str, flavour: str, size: str, message: str) -> dict[str, str]:
    return {"customer_name": name, "customer_email": email, "flavour": flavour, "size": size, "message": message}


def advance(orders: list[Order], cook) -> None:
    """Leave the first order received, the second in progress, the third ready, the fourth delivered."""
    scoop = orders[1].steps.get(kind=Step.Kind.SCOOP)
    services.claim_step(scoop.pk, cook)
    for order in orders[2:]:
        for step in order.steps.all():
            services.claim_step(step.pk, cook)
            services.finish_step(step.pk, cook)
    services.mark_delivered(orders[3].pk, cook)
