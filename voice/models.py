"""The resources the API's scopes guard. Every row belongs to one account and one mode.

`livemode` is False for rows made with a test key (vxp_test_): test mode is a separate world in
the same tables, which live keys never see and test keys never leave (voice/views.py).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Account
from voxkeys.safetext import SafeTextValidator

# E.164: a plus sign, then up to 15 digits, the first not zero.
PHONE_MAX_LENGTH = 16
NAME_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
LIVEMODE_HELP = "Unticked: made with a test key, and seen only by test keys."

# The events a webhook can subscribe to, and what each means: the one catalogue that the API's
# validation, the OpenAPI document and the webhooks page read. Any other name is refused.
WEBHOOK_EVENT_CATALOGUE: dict[str, str] = {
    "call.queued": "A call was placed and waits to be dialled.",
    "call.completed": "A call ended normally (a test key's simulated call, seconds after).",
    "call.failed": "A call could not be completed.",
    "campaign.created": "A campaign was created.",
    "campaign.updated": "A campaign's name or status changed.",
    "contact.created": "A contact was created or imported.",
    "contact.updated": "A contact was changed.",
    "contact.deleted": "A contact was deleted.",
    "api_key.created": "An API key was created.",
    "api_key.edited": "An API key's name, description, scopes or IP allowlist changed.",
    "api_key.rolled": "An API key was replaced by a new secret.",
    "api_key.revoked": "An API key was revoked.",
    "api_key.expiring": "An API key expires soon (the expiry notices).",
    "api_key.expired": "An API key reached its expiry.",
    "api_key.leaked": "An API key was found in public and revoked.",
}
WEBHOOK_EVENTS: tuple[str, ...] = tuple(WEBHOOK_EVENT_CATALOGUE)


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[SafeTextValidator("name")])
    phone = models.CharField(max_length=PHONE_MAX_LENGTH, help_text="E.164, e.g. +14155550100.")
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # Lists page by id within one account's live or test rows.
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="contact_account_livemode_id")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[SafeTextValidator("name")])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="campaign_account_livemode_id")
        ]

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        # A test call of before test calls completed by themselves (voice.jobs); none are made now.
        SIMULATED = "simulated", "Simulated"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="calls")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # Kept on the call itself: the history must survive the contact being changed or deleted.
    to_number = models.CharField(max_length=PHONE_MAX_LENGTH)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="call_account_livemode_id")
        ]

    def __str__(self) -> str:
        return f"Call to {self.to_number} ({self.status})"


class Webhook(models.Model):
    """A customer's endpoint: where, which events, and how its deliveries are going."""

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        # Its latest delivery failed; it is disabled after WEBHOOK_DISABLE_AFTER_DAYS of this.
        FAILING = "failing", "Failing"
        DISABLED = "disabled", "Disabled"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    url = models.URLField(max_length=URL_MAX_LENGTH)
    events = models.JSONField(default=list, help_text="Event names from the catalogue.")
    # The signing secret ("whsec_..."), encrypted with WEBHOOK_ENCRYPTION_KEYS: only signing
    # reads it. After a rotation the previous one signs too, until previous_secret_expires_at.
    secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(
        max_length=200, blank=True, validators=[SafeTextValidator("reason")]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="webhook_account_livemode_id")
        ]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """Something that happened, as its webhook payload: one row, sent to every matching endpoint."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_events")
    livemode = models.BooleanField(default=True)
    # The payload's "id" and the `webhook-id` header: a receiver deduplicates on it.
    public_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    # {"id", "type", "created", "livemode", "data"}: never a secret.
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="webhookevent_account_time")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: its attempts so far and what happens next."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # the next attempt is due at next_attempt_at
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # no attempt left, or the endpoint is gone or disabled

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="webhookdelivery_webhook_time"),
            models.Index(fields=["created_at"], name="webhookdelivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what came back (or why nothing did), and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    # Why there is no status code: a refused address, a timeout, a TLS error...
    error = models.CharField(max_length=200, blank=True)
    # The first WEBHOOK_RESPONSE_EXCERPT characters of what the receiver answered.
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique")
        ]
        indexes = [
            # The attempts still running (a handful): what the per-endpoint concurrency cap counts.
            models.Index(
                fields=["started_at"],
                condition=models.Q(duration_ms__isnull=True),
                name="webhookattempt_in_flight",
            )
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.delivery}"
