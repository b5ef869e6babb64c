from django.contrib import admin
from django.urls import include, path

from project import views
from retry.monitoring import metrics

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", metrics.view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("orders.urls")),
]
