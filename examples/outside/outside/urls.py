from django.contrib import admin
from django.urls import path

from outside import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("enqueue/", views.enqueue),
    path("tasks/<str:task_id>/", views.result),
]
