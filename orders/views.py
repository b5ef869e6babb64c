"""The public order pages and the order API."""

import hashlib
import json
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders import limits, services
from orders.exceptions import IdempotencyKeyReused
from orders.forms import OrderForm
from orders.models import Order
from orders.task_facts import isoformat

#: Characters an Idempotency-Key may have.
MAX_KEY_LENGTH = 255


@require_http_methods(["GET", "POST"])
def new_order(request: HttpRequest) -> HttpResponse:
    """Show the order form; place the order when it is valid and the client is within its limits."""
    form = OrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refusal = limits.take_order_slot(client_address(request), form.cleaned_data["customer_email"])
        if refusal is None:
            order = services.place_order(**form.cleaned_data)
            return redirect("orders:detail", number=order.number)
        form.add_error(None, refusal.message)
        return render(request, "orders/order_form.html", {"form": form}, status=429)
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
    """Place an order from a JSON object; 201 with the order, or 400 with the errors per field.

    With an Idempotency-Key header, the same key and body again return the first order instead of a new one.
    """
    if request.content_type != "application/json":
        return JsonResponse({"error": "Send the order as Content-Type: application/json."}, status=415)
    try:
        data = read_json_object(request)
        key = idempotency_key(request)
        earlier = services.order_for_key(key, fingerprint(data)) if key else None
    except BadRequest as error:
        return JsonResponse({"error": str(error)}, status=400)
    except IdempotencyKeyReused as error:
        return JsonResponse({"error": str(error)}, status=422)
    if earlier is not None:
        return created(earlier, request, replayed=True)
    form = OrderForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    refusal = limits.take_order_slot(client_address(request), form.cleaned_data["customer_email"])
    if refusal is not None:
        response = JsonResponse({"error": refusal.message}, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    if key is None:
        return created(services.place_order(**form.cleaned_data), request)
    order, new = services.place_order_once(key, fingerprint(data), **form.cleaned_data)
    return created(order, request, replayed=not new)


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, its order fields all strings; BadRequest, with what to fix, for anything else."""
    try:
        data = json.loads(request.body, parse_constant=refuse_constant)
        json.dumps(data, ensure_ascii=False).encode()
    except RecursionError:
        raise BadRequest("The body is nested too deeply.") from None
    except (ValueError, UnicodeError):  # UnicodeEncodeError: a lone surrogate such as "\ud800"
        raise BadRequest("The body is not valid JSON in UTF-8.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    not_text = [name for name in OrderForm.Meta.fields if name in data and not isinstance(data[name], str)]
    if not_text:
        raise BadRequest(f"Send each field as a JSON string; these are not: {', '.join(not_text)}.")
    return data


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
        raise BadRequest(f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return key


def fingerprint(data: dict[str, Any]) -> str:
    """The same for two bodies with the same fields and values, whatever their order and spacing."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def created(order: Order, request: HttpRequest, *, replayed: bool = False) -> JsonResponse:
    response = JsonResponse(order_json(order, request), status=201)
    response["Location"] = reverse("orders:api-detail", args=[order.number])
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def client_address(request: HttpRequest) -> str:
    """The client's IP address; behind a proxy, daphne --proxy-headers takes it from X-Forwarded-For."""
    return request.META.get("REMOTE_ADDR") or ""


@require_GET
def api_order_detail(request: HttpRequest, number: int) -> JsonResponse:
    """An order's public facts as JSON."""
    order = Order.objects.prefetch_related("steps").filter(number=number).first()
    if order is None:
        return JsonResponse({"error": f"There is no order #{number:03d}."}, status=404)
    return JsonResponse(order_json(order, request))


STAMPS = ["created_at", "updated_at", "ready_at", "delivered_at", "cancelled_at"]


def order_json(order: Order, request: HttpRequest) -> dict[str, Any]:
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
