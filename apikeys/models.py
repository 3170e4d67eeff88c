from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from voxkeys.safetext import SafeTextValidator


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self, now: datetime | None = None) -> ApiKeyQuerySet:
        """Keys that authenticate right now: neither revoked nor expired (rolled ones included)."""
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True
        )

    def inactive(self, now: datetime | None = None) -> ApiKeyQuerySet:
        """Keys that no longer authenticate: revoked, or past their expiry."""
        now = now or timezone.now()
        return self.filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=now))

    def counted_against_limit(self, now: datetime | None = None) -> ApiKeyQuerySet:
        # A rolled key in its grace period and its successor count once: as the successor.
        return self.active(now).filter(replaced_by__isnull=True)

    def seen_by(self, user_id: int, now: datetime | None = None) -> ApiKeyQuerySet:
        """Active keys whose secret `user_id` was shown: those they created or rolled (a roll's
        successor is its roller's). Keys already rolled are left out: their successors count."""
        return self.active(now).filter(created_by_id=user_id, replaced_by__isnull=True)

    def revoked(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=False)

    def expired(self, now: datetime | None = None) -> ApiKeyQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__lte=now)

    def for_account(self, account: Account) -> ApiKeyQuerySet:
        return self.filter(account=account)

    def with_scope(self, scope: str) -> ApiKeyQuerySet:
        # Scopes are one space-separated column (as in OAuth) so the API reads them with the key.
        return self.filter(scopes__regex=rf"(^| ){scope}( |$)")


class ApiKey(models.Model):
    """A secret that lets a customer's software call the API, limited to its scopes.

    Only the SHA-256 digest of the secret is stored; the secret itself is shown once.
    A key stops working when it is revoked or when `expires_at` passes; rolling a key sets
    `replaced_by` and brings `expires_at` forward to the end of the grace period.
    """

    class Environment(models.TextChoices):
        LIVE = "live", "Live"
        TEST = "test", "Test"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField("key name", max_length=100, validators=[SafeTextValidator("name")])
    description = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where it is deployed, who owns it.",
        validators=[SafeTextValidator("description")],
    )
    environment = models.CharField(
        max_length=4, choices=Environment.choices, default=Environment.LIVE
    )
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    masked_key = models.CharField(max_length=32, editable=False)
    scopes = models.CharField(
        max_length=200, help_text="Space-separated scope names, in catalogue order."
    )
    # Empty: any address. Otherwise space-separated networks in normalized CIDR form.
    allowed_ips = models.TextField(
        "allowed IP addresses", blank=True, help_text="Space-separated IP networks (CIDR)."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The expiry policy a roll gives the successor, counted from the roll. Empty: never expires.
    lifetime = models.DurationField(null=True, blank=True, editable=False)
    # Set once the "expired" event is written, so it is written exactly once.
    expiry_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    replaced_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaces",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set from the create form, so a double click or a resubmitted form creates one key, not two.
    creation_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]
        # No unique constraint on active names: "active" depends on the clock (expiry), which a
        # constraint cannot see. create_key, roll_key and edit_key check the name while holding
        # the account's row lock, so no two writers can race past the check.
        indexes = [models.Index(fields=["account", "name"], name="apikey_account_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_key})"

    @property
    def livemode(self) -> bool:
        return self.environment == self.Environment.LIVE

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired()

    @property
    def in_grace_period(self) -> bool:
        """Rolled, and still working until its grace period ends."""
        return self.replaced_by_id is not None and self.is_active

    @property
    def ended_at_roll(self) -> bool:
        """Rolled with "Now": the old secret stopped in the roll itself, as its successor began."""
        return (
            self.replaced_by is not None
            and self.revoked_at is not None
            and self.revoked_at <= self.replaced_by.created_at
        )

    @property
    def status(self) -> str:
        # A rolled key whose secret was ended (at the roll, or its grace cut short) was replaced,
        # not revoked: its successor carries on.
        if self.is_revoked and self.replaced_by_id is not None:
            return "Rolled"
        if self.is_revoked:
            return "Revoked"
        if self.is_expired():
            return "Expired"
        if self.replaced_by_id is not None:
            return "Rolled"
        return "Active"

    def grace_ends_in_words(self, now: datetime | None = None) -> str:
        """How long a rolled key's secret keeps working, shortly: "in 23 h", "in 5 min"."""
        if self.expires_at is None:
            return ""
        seconds = max(int((self.expires_at - (now or timezone.now())).total_seconds()), 0)
        if seconds >= 2 * 86_400:
            return f"in {seconds // 86_400} days"
        if seconds >= 3_600:
            return f"in {seconds // 3_600} h"
        return f"in {max(seconds // 60, 1)} min"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def allowed_ip_list(self) -> list[str]:
        return self.allowed_ips.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list


class ExpiryNotice(models.Model):
    """An expiry warning sent for a key; the unique pair makes each notice go out once."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="expiry_notices")
    # How long before the expiry, in days ("30d", "7d", "1d"): one of KEY_EXPIRY_NOTICE_DAYS
    # when it was sent.
    kind = models.CharField(max_length=4)
    expires_at = models.DateTimeField(help_text="The expiry the notice warned about.")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "kind"], name="expirynotice_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind.removesuffix('d')}-day notice for {self.api_key.name}"


class KeyUsage(models.Model):
    """How many requests a key made in one hour, by required scope and outcome.

    Written only by apikeys.auth.usage's batched flush (an upsert that adds to `requests`), never
    per request.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage")
    hour = models.DateTimeField(help_text="The start of the hour (UTC).")
    # The scope the endpoint required; empty for endpoints any key may call.
    scope = models.CharField(max_length=40, blank=True)
    status_class = models.PositiveSmallIntegerField(help_text="2, 4 or 5 (2xx, 4xx, 5xx).")
    error_code = models.CharField(max_length=40, blank=True)
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "hour", "scope", "status_class", "error_code"],
                name="keyusage_one_row_per_bucket",
            )
        ]
        indexes = [
            models.Index(fields=["api_key", "hour"], name="keyusage_key_hour"),
            # prune_key_usage finds the oldest hours of every key at once.
            models.Index(fields=["hour"], name="keyusage_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.hour:%Y-%m-%d %H}h: {self.requests}"


class KeyScopeUse(models.Model):
    """When a key last used each scope (for "Permissions in use" and least-privilege hints)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="scope_uses")
    scope = models.CharField(max_length=40)
    last_used_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "scope"], name="keyscopeuse_once")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.scope}"


class KeyClient(models.Model):
    """One client address a key was used from; the flush keeps the 10 most recent per key."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="clients")
    ip_address = models.GenericIPAddressField("IP address")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    user_agent = models.CharField(max_length=200, blank=True)
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["api_key", "ip_address"], name="keyclient_once")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.ip_address}"
