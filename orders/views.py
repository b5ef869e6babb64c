"""The public order pages and the order API."""

import json
from datetime import datetime

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders import services
from orders.forms import OrderForm
from orders.models import Order


@require_http_methods(["GET", "POST"])
def new_order(request: HttpRequest) -> HttpResponse:
    """Show the order form; place the order when it is valid."""
    form = OrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = services.place_order(**form.cleaned_data)
        return redirect("orders:detail", number=order.number)
    return render(request, "orders/order_form.html", {"form": form})


@require_GET
def order_detail(request: HttpRequest, number: int) -> HttpResponse:
    """Show an order's status to whoever has its number."""
    order = get_object_or_404(Order.objects.prefetch_related("steps"), number=number)
    return render(request, "orders/order_detail.html", {"order": order})


# Browsers cannot send a cross-site application/json POST without a CORS preflight,
# which this site never grants, so requiring that content type stands in for the CSRF token.
@csrf_exempt
@require_POST
def api_create_order(request: HttpRequest) -> JsonResponse:
    """Place an order from a JSON object; 201 with the order, or 400 with the errors per field."""
    if request.content_type != "application/json":
        return JsonResponse({"error": "Send the order as Content-Type: application/json."}, status=415)
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "The body must be a JSON object."}, status=400)
    form = OrderForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    order = services.place_order(**form.cleaned_data)
    response = JsonResponse(order_json(order, request), status=201)
    response["Location"] = reverse("orders:api-detail", args=[order.number])
    return response


@require_GET
def api_order_detail(request: HttpRequest, number: int) -> JsonResponse:
    """An order's public facts as JSON."""
    order = Order.objects.prefetch_related("steps").filter(number=number).first()
    if order is None:
        return JsonResponse({"error": f"There is no order #{number:03d}."}, status=404)
    return JsonResponse(order_json(order, request))


STAMPS = ["created_at", "updated_at", "ready_at", "delivered_at", "cancelled_at"]


def isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def order_json(order: Order, request: HttpRequest) -> dict:
    """What anyone holding the number may see: no e-mail, no name, no webhook."""
    return {
        "id": order.pk,
        "number": order.number,
        "label": order.label,
        "status": order.status,
        "flavour": order.flavour,
        "size": order.size,
        "steps": [{"kind": step.kind, "status": step.status} for step in order.steps.all()],
        **{name: isoformat(getattr(order, name)) for name in STAMPS},
        "url": request.build_absolute_uri(reverse("orders:detail", args=[order.number])),
    }
