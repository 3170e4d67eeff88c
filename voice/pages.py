"""Settings -> Webhooks: the account's endpoints, adding and editing one, its secret shown once
(after creating and after rotating), and each endpoint's recent deliveries with Redeliver.

Owners and admins manage; members see the same pages without the buttons, and any change they
send is refused with 403. Every dialog URL also renders as a whole page, so the flow works
without JavaScript. The rules live in voice.webhooks.services and voice.validation.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.requests import AccountRequest, current_account
from accounts.sudo import sudo_required
from voice.forms import NewWebhookForm, WebhookForm
from voice.models import WEBHOOK_EVENT_CATALOGUE, Webhook, WebhookAttempt, WebhookDelivery
from voice.webhooks.delivery import MAX_ATTEMPTS
from voice.webhooks.services import (
    create_webhook,
    delete_webhook,
    enable_webhook,
    recent_deliveries,
    redeliver_delivery,
    rotate_secret,
    send_test_event,
    update_webhook,
)

# The dialogs are the API Keys page's (static/js/apikeys.js opens and closes them): on this
# event it closes the dialog, and the page reloads its endpoints, which bring the message.
CHANGED_EVENT = "keysChanged"
# One attempt at once, then the Standard Webhooks schedule's nine retries.
# A receiver's answer is kept up to 64 KB; the page shows its start.
RESPONSE_PREVIEW_CHARACTERS = 2000
PREVIOUS_SECRET_HOURS = 24


class EventChoice(NamedTuple):
    name: str
    description: str
    checked: bool


class DeliveryRow(NamedTuple):
    """A delivery as its row shows it: the latest attempt, and the body that was sent."""

    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]
    latest: WebhookAttempt | None
    request_body: str
    response_preview: str
    response_cut: bool


def may_manage(request: AccountRequest) -> bool:
    return request.membership is not None and request.membership.can_manage_keys


def refused(request: AccountRequest) -> HttpResponse:
    return render_dialog(request, "webhooks/refused.html", {}, status=403)


@require_GET
@vary_on_headers("HX-Request")
def index(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    template_name = "webhooks/index.html"
    if request.htmx and not request.htmx.history_restore_request:
        template_name += "#webhook-area"
    context = {"webhooks": list(account.webhooks.all()), "can_manage": may_manage(request)}
    return render(request, template_name, context)


@require_GET
@vary_on_headers("HX-Request")
def detail(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    template_name = "webhooks/detail.html"
    if request.htmx and not request.htmx.history_restore_request:
        template_name += "#endpoint-area"
    context = {
        "webhook": webhook,
        "deliveries": [delivery_row(delivery) for delivery in recent_deliveries(webhook)],
        "delivery_attempts": MAX_ATTEMPTS,
        "can_manage": may_manage(request),
    }
    return render(request, template_name, context)


@require_http_methods(["GET", "POST"])
@sudo_required
@never_cache  # the reveal carries the secret
@sensitive_variables("created")
def create(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    if not may_manage(request):
        return refused(request)
    if request.method == "GET":
        return render_form(request, NewWebhookForm())
    form = NewWebhookForm(request.POST)
    if not form.is_valid():
        return render_form(request, form, status=422)
    created = create_webhook(
        account=account,
        livemode=form.livemode,
        url=form.cleaned_data["url"],
        events=form.cleaned_data["events"],
    )
    messages.success(request, f"Endpoint {created.webhook.url} added.")
    return render_reveal(request, created.webhook, created.secret, rotated=False)


@require_http_methods(["GET", "POST"])
@sudo_required
def edit(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    if not may_manage(request):
        return refused(request)
    if request.method == "GET":
        form = WebhookForm(initial={"url": webhook.url, "events": webhook.events})
        return render_form(request, form, webhook=webhook)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return render_form(request, form, webhook=webhook, status=422)
    update_webhook(
        webhook=webhook, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
    )
    messages.success(request, f"Endpoint {webhook.url} updated.")
    return changed(request, webhook)


@require_http_methods(["GET", "POST"])
def delete(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    if not may_manage(request):
        return refused(request)
    if request.method == "GET":
        return render_dialog(request, "webhooks/delete.html", {"webhook": webhook})
    url = webhook.url
    delete_webhook(webhook=webhook)
    messages.success(request, f"Endpoint {url} deleted. It receives no more events.")
    # From the endpoint's own page too: that page is gone.
    if request.htmx:
        return HttpResponseClientRedirect(reverse("webhooks:index"))
    return redirect("webhooks:index")


@require_http_methods(["GET", "POST"])
@sudo_required
@never_cache  # the reveal carries the secret
@sensitive_variables("secret")
def rotate(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    if not may_manage(request):
        return refused(request)
    if request.method == "GET":
        context = {"webhook": webhook, "previous_secret_hours": PREVIOUS_SECRET_HOURS}
        return render_dialog(request, "webhooks/rotate.html", context)
    secret = rotate_secret(webhook=webhook)
    messages.success(
        request,
        f"The secret of {webhook.url} was rotated. "
        f"The old one keeps signing for {PREVIOUS_SECRET_HOURS} hours.",
    )
    return render_reveal(request, webhook, secret, rotated=True)


@require_POST
def enable(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    if not may_manage(request):
        return refused(request)
    if webhook.status == Webhook.Status.DISABLED:
        enable_webhook(webhook=webhook)
        messages.success(request, f"Endpoint {webhook.url} re-enabled: new events go to it.")
    else:
        messages.info(request, f"Endpoint {webhook.url} was already enabled.")
    return back_to(request, webhook)


@require_POST
def send_test(request: AccountRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    if not may_manage(request):
        return refused(request)
    delivery = send_test_event(webhook=webhook)
    messages.success(
        request, f"Test event {delivery.event.public_id} sent to {webhook.url}: see its delivery."
    )
    return redirect("webhooks:detail", pk=webhook.pk)


@require_POST
def redeliver(request: AccountRequest, pk: int, delivery_pk: int) -> HttpResponse:
    webhook = get_object_or_404(current_account(request).webhooks, pk=pk)
    delivery = get_object_or_404(webhook.deliveries.select_related("event"), pk=delivery_pk)
    if not may_manage(request):
        return refused(request)
    redeliver_delivery(delivery=delivery)
    messages.success(request, f"Event {delivery.event.public_id} will be delivered again now.")
    return redirect("webhooks:detail", pk=webhook.pk)


def delivery_row(delivery: WebhookDelivery) -> DeliveryRow:
    attempts = sorted(delivery.log.all(), key=lambda attempt: attempt.number)
    latest = attempts[-1] if attempts else None
    response = latest.response_body if latest else ""
    return DeliveryRow(
        delivery=delivery,
        attempts=attempts,
        latest=latest,
        request_body=json.dumps(delivery.event.payload, indent=2, ensure_ascii=False),
        response_preview=response[:RESPONSE_PREVIEW_CHARACTERS],
        response_cut=len(response) > RESPONSE_PREVIEW_CHARACTERS,
    )


def event_choices(form: WebhookForm) -> list[EventChoice]:
    chosen = form["events"].value() or []
    return [
        EventChoice(event, description, event in chosen)
        for event, description in WEBHOOK_EVENT_CATALOGUE.items()
    ]


def render_form(
    request: AccountRequest,
    form: WebhookForm,
    *,
    webhook: Webhook | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "webhook": webhook, "event_choices": event_choices(form)}
    return render_dialog(request, "webhooks/form.html", context, status=status)


@sensitive_variables("secret")
def render_reveal(
    request: AccountRequest, webhook: Webhook, secret: str, *, rotated: bool
) -> HttpResponse:
    context = {
        "webhook": webhook,
        "secret": secret,
        "rotated": rotated,
        "previous_secret_hours": PREVIOUS_SECRET_HOURS,
    }
    return render_dialog(request, "webhooks/reveal.html", context)


def render_dialog(
    request: AccountRequest, template_name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    # In the dialog (an htmx request) only its content; without JavaScript, the same as a page.
    if request.htmx:
        template_name += "#dialog"
    return render(request, template_name, context, status=status)


def changed(request: AccountRequest, webhook: Webhook) -> HttpResponse:
    if request.htmx:
        # The page closes the dialog and reloads what it shows, which brings the message.
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT)
    return redirect("webhooks:detail", pk=webhook.pk)


def back_to(request: AccountRequest, webhook: Webhook) -> HttpResponse:
    """Back to the page the form was sent from: the list or the endpoint's own page."""
    if request.POST.get("from") == "detail":
        return redirect("webhooks:detail", pk=webhook.pk)
    return redirect("webhooks:index")
