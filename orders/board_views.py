"""The pages of the live boards; their content arrives over the websocket (see consumers/)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@staff_member_required
def kitchen_board(request: HttpRequest) -> HttpResponse:
    """The kitchen board: staff only, like its websocket."""
    return render(request, "orders/kitchen_board.html")


@require_GET
def pickup_screen(request: HttpRequest) -> HttpResponse:
    """The public pickup screen: order numbers only."""
    return render(request, "orders/pickup_screen.html")
