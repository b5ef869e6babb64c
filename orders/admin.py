"""Admin for orders and steps; status changes go through the order services.

The admin classes are generic in django-stubs only (Django's own cannot be subscripted): their bases carry
``type: ignore[type-arg]``, as retry.admin's do.
"""

import re
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from orders import services
from orders.exceptions import OrderError
from orders.forms import OrderForm
from orders.models import Order, StaffProfile, Step, WebhookDelivery

ORDER_LABEL = re.compile(r"(?<!\S)#?0*(\d+)(?!\S)")
TIMESTAMPS = (
    "created_at",
    "updated_at",
    "ready_at",
    "delivered_at",
    "cancelled_at",
    "received_notified_at",
    "ready_notified_at",
    "cancelled_notified_at",
)


def plain_numbers(search_term: str) -> str:
    """Turn order labels such as "#042" into the stored number "42", so staff can type what the screen shows."""
    return ORDER_LABEL.sub(r"\1", search_term)


class StepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Step
    fields = ("kind", "status", "claimed_by", "claimed_at", "done_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("label", "customer_name", "flavour", "size", "status", "created_at")
    list_display_links = ("label", "customer_name")
    list_filter = ("status", "flavour", "size", "created_at")
    search_fields = ("=number", "customer_name", "customer_email")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    readonly_fields = ("number", "status", *TIMESTAMPS)
    inlines = (StepInline,)
    actions = ("deliver", "cancel")
    fieldsets = (
        (None, {"fields": ("number", "status", "customer_name", "customer_email")}),
        ("Cake", {"fields": ("flavour", "size", "message")}),
        ("Webhook", {"fields": ("webhook_url", "webhook_enabled")}),
        ("Timestamps", {"fields": TIMESTAMPS}),
    )

    @admin.display(description="Number", ordering="number")
    def label(self, order: Order) -> str:
        return order.label

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        return super().get_search_results(request, queryset, plain_numbers(search_term))

    def get_inlines(self, request: HttpRequest, obj: Order | None) -> "tuple[type[InlineModelAdmin[Any, Any]], ...]":
        # A new order gets its steps from place_order, not from the form.
        return tuple(self.inlines) if obj else ()

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": OrderForm.Meta.fields}),)
        return super().get_fieldsets(request, obj)

    def save_model(self, request: HttpRequest, obj: Order, form: "ModelForm[Order]", change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        placed = services.place_order(**{name: form.cleaned_data[name] for name in OrderForm.Meta.fields})
        # The admin goes on with `obj` (inlines, messages, redirect), so it becomes the placed order.
        obj.pk = placed.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def deliver(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.apply(request, queryset, services.mark_delivered, "delivered")

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.apply(request, queryset, services.cancel_order, "cancelled")

    def apply(
        self, request: HttpRequest, queryset: QuerySet[Order], service: Callable[[int, Any], Order], done: str
    ) -> None:
        """Run a service on each order; report successes and each refusal."""
        changed = 0
        for order in queryset:
            try:
                service(order.pk, request.user)
                changed += 1
            except OrderError as error:
                self.message_user(request, str(error), messages.ERROR)
        if changed:
            self.message_user(request, f"{changed} order(s) {done}.", messages.SUCCESS)


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "kind", "status", "claimed_by", "claimed_at", "done_at")
    list_filter = ("kind", "status")
    search_fields = ("=order__number", "claimed_by__username")
    list_select_related = ("order", "claimed_by")
    readonly_fields = ("order", "kind", "status", "claimed_by", "claimed_at", "done_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Step], search_term: str
    ) -> tuple[QuerySet[Step], bool]:
        return super().get_search_results(request, queryset, plain_numbers(search_term))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: rows are written by the deliveries; the signing secret is never stored, so never shown."""

    list_display = ("webhook_id", "order", "status", "state", "attempts", "response_status", "last_attempt_at")
    list_filter = ("status", ("delivered_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter))
    search_fields = ("=order__number", "url")
    list_select_related = ("order",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery], search_term: str
    ) -> tuple[QuerySet[WebhookDelivery], bool]:
        return super().get_search_results(request, queryset, plain_numbers(search_term))


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "preferred_steps")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)


class StaffProfileInline(admin.StackedInline):  # type: ignore[type-arg]
    model = StaffProfile
    can_delete = False
    verbose_name = verbose_name_plural = "kitchen preferences"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class KitchenUserAdmin(UserAdmin):  # type: ignore[type-arg]
    inlines = (StaffProfileInline,)
