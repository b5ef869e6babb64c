from django.urls import path

from orders import board_views, status_events, views

app_name = "orders"
urlpatterns = [
    path("", views.new_order, name="new"),
    path("orders/<int:number>/", views.order_detail, name="detail"),
    path("orders/<int:number>/events", status_events.order_events, name="events"),
    path("api/orders", views.api_create_order, name="api-create"),
    path("api/orders/<int:number>", views.api_order_detail, name="api-detail"),
    path("kitchen/", board_views.kitchen_board, name="kitchen"),
    path("pickup/", board_views.pickup_screen, name="pickup"),
]
