"""`manage.py seed_demo` fills an empty database once, and leaves data alone."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from orders import services
from orders.models import Order, StaffProfile

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_accounts_with_the_printed_passwords(db: None) -> None:
    output = seed()
    users = get_user_model().objects
    for username in ("ana", "ben", "admin"):
        found = re.search(rf"username: {username}\s+password: (\S+)", output)
        assert found is not None
        password = found.group(1)
        assert users.get(username=username).check_password(password)
    for cook in ("ana", "ben"):
        assert users.get(username=cook).is_staff
        assert not users.get(username=cook).is_superuser
        assert users.get(username=cook).has_perm("orders.change_order")
    assert users.get(username="admin").is_superuser


def test_the_two_cooks_have_the_seeds_opposite_habits_and_say_so(db: None) -> None:
    output = seed()
    assert StaffProfile.objects.get(user__username="ana").step_order == ["scoop", "decorate", "spread"]
    assert StaffProfile.objects.get(user__username="ben").step_order == ["scoop", "spread", "decorate"]
    assert re.search(r"username: ana\s+password: \S+\s+\(scoop, decorate, spread\)", output)
    assert re.search(r"username: ben\s+password: \S+\s+\(scoop, spread, decorate\)", output)


def test_next_for_me_gives_the_two_cooks_different_steps_of_the_same_order(db: None) -> None:
    seed()
    ana, ben = (get_user_model().objects.get(username=name) for name in ("ana", "ben"))
    for_ana, for_ben = services.next_step_for(ana), services.next_step_for(ben)
    assert for_ana is not None and for_ben is not None
    assert (for_ana.order.label, for_ana.kind) == ("#001", "decorate")
    assert (for_ben.order.label, for_ben.kind) == ("#001", "spread")
    claimed, next_for_ana = services.claim_next_step(ben), services.next_step_for(ana)
    assert claimed is not None and next_for_ana is not None
    assert claimed.pk == for_ben.pk
    assert next_for_ana.pk == for_ana.pk  # taken or not, Ben's habit leaves Ana's step alone


def test_seed_demo_creates_orders_in_varied_states(db: None) -> None:
    output = seed()
    statuses = list(Order.objects.order_by("number").values_list("status", flat=True))
    assert statuses == ["in_progress", "in_progress", "ready", "delivered"]
    assert "Demo orders: #001, #002, #003, #004" in output
    assert all(order.steps.count() == 3 for order in Order.objects.all())


def test_seed_demo_passwords_differ_between_databases(db: None) -> None:
    first = seed()
    Order.objects.all().delete()
    get_user_model().objects.all().delete()
    assert seed() != first


def test_seed_demo_does_nothing_when_data_exists(db: None) -> None:
    seed()
    users, orders = get_user_model().objects.count(), Order.objects.count()
    output = seed()
    assert "nothing was created" in output
    assert "password" not in output
    assert (get_user_model().objects.count(), Order.objects.count()) == (users, orders)


def test_seed_demo_does_nothing_when_only_a_user_exists(db: None) -> None:
    get_user_model().objects.create_user("someone")
    assert "nothing was created" in seed()
    assert not Order.objects.exists()
