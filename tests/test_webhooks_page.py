"""Settings → Webhooks over HTTP: the list and an endpoint's page, the forms and their errors,
the secret shown once, sudo, and who may change what."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from tests.conftest import client_for
from tests.support.htmx import HTMX
from voice.models import WEBHOOK_EVENT_CATALOGUE, Webhook, WebhookAttempt
from voice.webhooks.services import create_webhook, send_test_event

pytestmark = pytest.mark.django_db

INDEX = reverse("webhooks:index")
CREATE = reverse("webhooks:create")
URL = "https://hooks.example.com/voxpria"
SECRET_PATTERN = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")


def new_endpoint(membership: Membership, *, url: str = URL, livemode: bool = True) -> Webhook:
    return create_webhook(
        account=membership.account, livemode=livemode, url=url, events=["call.completed"]
    ).webhook


def add_data(**fields: Any) -> dict[str, Any]:
    return {"url": URL, "events": ["call.completed", "contact.created"], "mode": "live", **fields}


def url_of(name: str, webhook: Webhook) -> str:
    return reverse(f"webhooks:{name}", args=[webhook.pk])


# The list


def test_the_sidebar_leads_to_webhooks_right_after_api_keys(owner_client: Client) -> None:
    response = owner_client.get(reverse("apikeys:index"))
    navigation = response.content.decode()
    assert navigation.index(">API Keys</a>") < navigation.index(">Webhooks</a>")
    assertContains(response, f'href="{INDEX}"')


def test_the_list_shows_each_endpoint_with_its_mode_events_status_and_date(
    owner_client: Client, owner: Membership
) -> None:
    live = new_endpoint(owner)
    new_endpoint(owner, url="https://test.example.com/hooks", livemode=False)
    failing = new_endpoint(owner, url="https://failing.example.com/hooks")
    Webhook.objects.filter(pk=failing.pk).update(
        status=Webhook.Status.FAILING, failing_since=timezone.now() - timedelta(hours=5)
    )
    Webhook.objects.filter(pk=live.pk).update(
        status=Webhook.Status.DISABLED, disabled_reason="The endpoint answered 410 Gone."
    )
    response = owner_client.get(INDEX)
    assertContains(response, "<h1>Webhooks</h1>", html=True)
    assertContains(response, URL)
    assertContains(response, '<span class="badge badge--test">Test</span>', html=True)
    assertContains(response, '<span class="badge badge--scope">call.completed</span>', count=3)
    assertContains(response, "Disabled")
    assertContains(response, "The endpoint answered 410 Gone.")
    assertContains(response, "Failing")
    assertContains(response, "since <time")
    assertContains(response, "Enabled")
    # Only the disabled one offers Re-enable.
    assertContains(response, ">Re-enable<", count=1)
    assertContains(response, "Add endpoint")


def test_an_empty_list_explains_endpoints(owner_client: Client) -> None:
    response = owner_client.get(INDEX)
    assertContains(response, "No endpoints yet")
    assertContains(response, "Add endpoint", count=2)


def test_another_accounts_endpoints_are_not_listed_and_their_pages_are_404(
    owner_client: Client, other_owner: Membership
) -> None:
    theirs = new_endpoint(other_owner, url="https://globex.example.com/hooks")
    assertNotContains(owner_client.get(INDEX), "globex.example.com")
    for name in ("detail", "edit", "delete", "rotate"):
        assert owner_client.get(url_of(name, theirs)).status_code == 404
    for name in ("edit", "delete", "rotate", "enable", "test"):
        assert owner_client.post(url_of(name, theirs), add_data()).status_code == 404
    delivery = send_test_event(webhook=theirs)
    redeliver = reverse("webhooks:redeliver", args=[theirs.pk, delivery.pk])
    assert owner_client.post(redeliver).status_code == 404
    assert Webhook.objects.get(pk=theirs.pk).url == "https://globex.example.com/hooks"


# Members read


def test_a_member_sees_the_endpoints_and_deliveries_without_any_button(
    member_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    send_test_event(webhook=webhook)
    response = member_client.get(INDEX)
    assertContains(response, URL)
    assertContains(response, "Only owners and admins can add or change endpoints.")
    for label in ("Add endpoint", "Edit", "Delete", "Rotate secret", "Send test event"):
        assertNotContains(response, f">{label}<")
    page = member_client.get(url_of("detail", webhook))
    assertContains(page, "webhook.test")
    assertNotContains(page, "Redeliver")
    assertNotContains(page, "Rotate secret")


def test_every_change_a_member_sends_is_refused_and_changes_nothing(
    member_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    delivery = send_test_event(webhook=webhook)
    attempts = {"create": CREATE}
    attempts |= {name: url_of(name, webhook) for name in ("edit", "delete", "rotate")}
    attempts |= {name: url_of(name, webhook) for name in ("enable", "test")}
    attempts["redeliver"] = reverse("webhooks:redeliver", args=[webhook.pk, delivery.pk])
    for name, url in attempts.items():
        response = member_client.post(url, add_data(url="https://elsewhere.example.com/"))
        assert response.status_code == 403, name
        assertContains(response, "Only the account's owners and admins", status_code=403)
    for name in ("create", "edit", "delete", "rotate"):
        assert member_client.get(attempts[name]).status_code == 403, name
    webhook.refresh_from_db()
    assert webhook.url == URL
    assert Webhook.objects.count() == 1
    assert webhook.deliveries.count() == 1


def test_an_admin_manages_like_an_owner(admin_member: Membership) -> None:
    response = client_for(admin_member).post(CREATE, add_data())
    assert response.status_code == 200
    assert Webhook.objects.filter(account=admin_member.account).count() == 1


# Adding an endpoint


def test_the_add_form_offers_every_event_of_the_catalogue_with_what_it_means(
    owner_client: Client,
) -> None:
    response = owner_client.get(CREATE, headers=HTMX)
    assert "<html" not in response.text
    assertContains(response, '<input type="checkbox" name="events" value="call.completed"')
    for event, description in WEBHOOK_EVENT_CATALOGUE.items():
        assertContains(response, f'value="{event}"')
        assertContains(response, escape(description))
    assertContains(response, 'value="live"')
    assertContains(response, 'value="test"')
    assert "no-store" in response["Cache-Control"]


def test_adding_shows_the_secret_once_and_the_pages_never_again(
    owner_client: Client, owner: Membership
) -> None:
    response = owner_client.post(CREATE, add_data(mode="test"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assertContains(response, "won't be shown again")
    secrets = SECRET_PATTERN.findall(response.text)
    assert len(set(secrets)) == 1
    webhook = Webhook.objects.get(account=owner.account)
    assert webhook.url == URL
    assert webhook.events == ["call.completed", "contact.created"]
    assert webhook.livemode is False
    # Reloading the list or the endpoint's page: the secret is gone.
    assertContains(response, f"Endpoint {URL} added.")
    for page in (owner_client.get(INDEX), owner_client.get(url_of("detail", webhook))):
        assert secrets[0] not in page.text
        assert not SECRET_PATTERN.search(page.text)


def test_in_the_dialog_the_secret_comes_as_the_dialogs_content(owner_client: Client) -> None:
    response = owner_client.post(CREATE, add_data(), headers=HTMX)
    assert "<html" not in response.text
    assertContains(response, "data-reveal")
    assertContains(response, "data-copy=")
    assert SECRET_PATTERN.search(response.text)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254\\@8.8.8.8/", "Must hold only the characters a URL may contain"),
        ("https://10.0.0.1\\@8.8.8.8/", "Must hold only the characters a URL may contain"),
        ("https://user:pass@hooks.example.com/", "Must not contain a user name or password"),
        ("http://hooks.example.com/", "Must be a valid https URL"),
        ("https://127.0.0.1/hooks", "Must be a public address"),
        ("https://hooks.example.com:22/", "Must use port 443 or 8443"),
        ("not a url", "Must hold only the characters a URL may contain"),
        ("", "This field is required."),
    ],
)
def test_a_refused_url_is_explained_beside_its_field_and_nothing_is_saved(
    owner_client: Client, url: str, message: str
) -> None:
    response = owner_client.post(CREATE, add_data(url=url), headers=HTMX)
    assert response.status_code == 422
    field = re.search(r'<p class="field__error" id="id_url_error">(.*?)</p>', response.text)
    assert field is not None
    assert message in field.group(1).replace("&#x27;", "'")
    assertContains(response, 'aria-invalid="true"', status_code=422)
    assert not SECRET_PATTERN.search(response.text)
    assert Webhook.objects.count() == 0


def test_no_event_chosen_is_explained_beside_the_events_and_nothing_is_saved(
    owner_client: Client,
) -> None:
    data = add_data()
    del data["events"]
    response = owner_client.post(CREATE, data)
    assert response.status_code == 422
    assertContains(
        response,
        '<p class="field__error" id="events-error">'
        "Choose at least one event to send to this endpoint.</p>",
        html=True,
        status_code=422,
    )
    # What was typed stays, so only the events need choosing.
    assertContains(response, f'value="{URL}"', status_code=422)
    assert Webhook.objects.count() == 0


def test_an_event_outside_the_catalogue_is_refused(owner_client: Client) -> None:
    response = owner_client.post(CREATE, add_data(events=["call.completed", "secrets.dumped"]))
    assertContains(response, "secrets.dumped", status_code=422)
    assert Webhook.objects.count() == 0


# Sudo


@pytest.fixture
def stale_client(owner: Membership) -> Any:
    """The owner, signed in (which confirms the password) 20 minutes ago."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client = Client()
        client.force_login(owner.user)
        traveller.move_to(start + timedelta(minutes=20))
        yield client


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_adding_editing_and_rotating_ask_for_the_password_first_and_do_nothing(
    stale_client: Client, owner: Membership, headers: dict[str, str]
) -> None:
    webhook = new_endpoint(owner)
    actions = {
        CREATE: "add a webhook endpoint",
        url_of("edit", webhook): "edit a webhook endpoint",
        url_of("rotate", webhook): "rotate a webhook&#x27;s signing secret",
    }
    for url, action in actions.items():
        assertContains(stale_client.get(url, headers=headers), f"To {action}, confirm")
        response = stale_client.post(
            url, add_data(url="https://elsewhere.example.com/"), headers=headers
        )
        assertContains(response, "Confirm your password", status_code=403)
        assert not SECRET_PATTERN.search(response.text)
    webhook.refresh_from_db()
    assert webhook.url == URL
    assert webhook.previous_secret_expires_at is None
    assert Webhook.objects.count() == 1


def test_deleting_needs_only_its_confirmation(stale_client: Client, owner: Membership) -> None:
    webhook = new_endpoint(owner)
    assertContains(stale_client.get(url_of("delete", webhook)), "Deleting cannot be undone.")
    response = stale_client.post(url_of("delete", webhook))
    assert response.status_code == 302
    assert not Webhook.objects.exists()


# Edit, delete, rotate, re-enable, test


def test_editing_changes_the_url_and_events_with_the_same_rules(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    form = owner_client.get(url_of("edit", webhook))
    assertContains(form, f'value="{URL}"')
    assert re.search(r'value="call.completed"\s[^>]*checked>', form.text)
    assert not re.search(r'value="call.failed"\s[^>]*checked>', form.text)
    refused = owner_client.post(
        url_of("edit", webhook), {"url": "https://169.254.169.254\\@8.8.8.8/", "events": []}
    )
    assert refused.status_code == 422
    assertContains(refused, 'id="id_url_error"', status_code=422)
    assertContains(refused, 'id="events-error"', status_code=422)
    webhook.refresh_from_db()
    assert webhook.url == URL

    response = owner_client.post(
        url_of("edit", webhook), {"url": "https://new.example.com/h", "events": ["call.failed"]}
    )
    assert response.status_code == 302
    assert response["Location"] == url_of("detail", webhook)
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events) == ("https://new.example.com/h", ["call.failed"])


def test_in_the_dialog_a_saved_edit_closes_it_and_reloads_the_page(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    response = owner_client.post(
        url_of("edit", webhook), {"url": URL, "events": ["call.failed"]}, headers=HTMX
    )
    assert response.status_code == 204
    assert "keysChanged" in json.loads(response["HX-Trigger"])
    area = owner_client.get(url_of("detail", webhook), headers=HTMX)
    assert "<html" not in area.text
    assertContains(area, f"Endpoint {URL} updated.")


def test_deleting_from_the_dialog_leads_back_to_the_list(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    response = owner_client.post(url_of("delete", webhook), headers=HTMX)
    assert response["HX-Redirect"] == INDEX
    assert not Webhook.objects.exists()
    assertContains(owner_client.get(INDEX), "receives no more events")


def test_rotating_says_the_old_secret_signs_for_24_hours_then_shows_the_new_one_once(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    confirm = owner_client.get(url_of("rotate", webhook))
    assertContains(confirm, "The old one keeps signing too for 24 hours")
    response = owner_client.post(url_of("rotate", webhook))
    assertContains(response, "The new signing secret")
    assertContains(response, "won't be shown again")
    assert "no-store" in response["Cache-Control"]
    secret = SECRET_PATTERN.search(response.text)
    assert secret is not None
    assert secret.group(0) not in owner_client.get(url_of("detail", webhook)).text


def test_re_enabling_a_disabled_endpoint(owner_client: Client, owner: Membership) -> None:
    webhook = new_endpoint(owner)
    Webhook.objects.filter(pk=webhook.pk).update(
        status=Webhook.Status.DISABLED, disabled_reason="Failing for 3 days."
    )
    response = owner_client.post(url_of("enable", webhook), {"from": "detail"})
    assert response["Location"] == url_of("detail", webhook)
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.ENABLED
    assert webhook.disabled_reason == ""
    assertContains(owner_client.get(INDEX), "re-enabled")


def test_sending_a_test_event_shows_its_delivery_on_the_endpoints_page(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    response = owner_client.post(url_of("test", webhook))
    assert response["Location"] == url_of("detail", webhook)
    delivery = webhook.deliveries.get()
    page = owner_client.get(url_of("detail", webhook))
    assertContains(page, f"Test event {delivery.event.public_id} sent")
    assertContains(page, "<code>webhook.test</code>", html=True)
    assertContains(page, "Attempt 0 of 10")
    assertContains(page, "Not attempted yet")


# An endpoint's deliveries


def test_each_delivery_shows_its_attempt_status_duration_and_both_bodies(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    delivery = send_test_event(webhook=webhook)
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, duration_ms=41, status_code=500, response_body="oops"
    )
    WebhookAttempt.objects.create(
        delivery=delivery, number=2, duration_ms=37, status_code=503, response_body="x" * 5000
    )
    delivery.attempts = 2
    delivery.next_attempt_at = timezone.now() + timedelta(minutes=5)
    delivery.save()
    page = owner_client.get(url_of("detail", webhook))
    assertContains(page, "HTTP 503")
    assertContains(page, "Attempt 2 of 10")
    assertContains(page, "37 ms")
    assertContains(page, "Next attempt")
    # The event JSON, pretty; the response cut to its start.
    assertContains(page, f"&quot;id&quot;: &quot;{delivery.event.public_id}&quot;")
    assertContains(page, "&quot;type&quot;: &quot;webhook.test&quot;")
    assertContains(page, "Response body (its start)")
    assertContains(page, "x" * 2000)
    assertNotContains(page, "x" * 2001)
    assertContains(page, "HTTP 500, 41 ms")


def test_redeliver_schedules_the_delivery_again_now(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    delivery = send_test_event(webhook=webhook)
    delivery.status = delivery.Status.FAILED
    delivery.next_attempt_at = None
    delivery.save()
    response = owner_client.post(reverse("webhooks:redeliver", args=[webhook.pk, delivery.pk]))
    assert response["Location"] == url_of("detail", webhook)
    delivery.refresh_from_db()
    assert delivery.status == delivery.Status.PENDING
    assertContains(owner_client.get(url_of("detail", webhook)), "will be delivered again now")


def test_a_delivery_of_another_endpoint_cannot_be_redelivered_through_this_one(
    owner_client: Client, owner: Membership
) -> None:
    mine = new_endpoint(owner)
    other = new_endpoint(owner, url="https://other.example.com/h")
    delivery = send_test_event(webhook=other)
    response = owner_client.post(reverse("webhooks:redeliver", args=[mine.pk, delivery.pk]))
    assert response.status_code == 404


def test_get_is_refused_where_only_post_changes_things(
    owner_client: Client, owner: Membership
) -> None:
    webhook = new_endpoint(owner)
    for name in ("enable", "test"):
        assert owner_client.get(url_of(name, webhook)).status_code == 405
