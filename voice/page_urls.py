from django.urls import path

from voice import pages

app_name = "webhooks"

urlpatterns = [
    path("", pages.index, name="index"),
    path("new/", pages.create, name="create"),
    path("<int:pk>/", pages.detail, name="detail"),
    path("<int:pk>/edit/", pages.edit, name="edit"),
    path("<int:pk>/delete/", pages.delete, name="delete"),
    path("<int:pk>/rotate-secret/", pages.rotate, name="rotate"),
    path("<int:pk>/enable/", pages.enable, name="enable"),
    path("<int:pk>/test/", pages.send_test, name="test"),
    path("<int:pk>/deliveries/<int:delivery_pk>/redeliver/", pages.redeliver, name="redeliver"),
]
