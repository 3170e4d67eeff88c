"""The resources' routes, mounted under /api/v1/ by api/urls.py (`id`: a resource id)."""

from __future__ import annotations

from django.urls import path

from voice import views

urlpatterns = [
    path("credits", views.credits, name="credits"),
    path("calls", views.calls, name="calls"),
    path("campaigns", views.campaigns, name="campaigns"),
    path("campaigns/<id:pk>", views.campaign, name="campaign"),
    path("contacts", views.contacts, name="contacts"),
    path("contacts/<id:pk>", views.contact, name="contact"),
    path("webhooks", views.webhooks, name="webhooks"),
    path("webhooks/<id:pk>", views.webhook, name="webhook"),
    path("webhooks/<id:pk>/rotate-secret", views.webhook_secret, name="webhook-secret"),
    path("webhooks/<id:pk>/deliveries", views.webhook_deliveries, name="webhook-deliveries"),
    path("webhooks/<id:pk>/test", views.webhook_test, name="webhook-test"),
]
