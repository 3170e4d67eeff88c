from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from accounts.models import Account


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)

    def revoked(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=False)

    def for_account(self, account: Account) -> ApiKeyQuerySet:
        return self.filter(account=account)

    def with_scope(self, scope: str) -> ApiKeyQuerySet:
        # Scopes are one space-separated column (as in OAuth) so the API reads them with the key.
        return self.filter(scopes__regex=rf"(^| ){scope}( |$)")


class ApiKey(models.Model):
    """A secret that lets a customer's software call the API, limited to its scopes.

    Only the SHA-256 digest of the secret is stored; the secret itself is shown once.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField("key name", max_length=100)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    masked_key = models.CharField(max_length=32, editable=False)
    scopes = models.CharField(
        max_length=200, help_text="Space-separated scope names, in catalogue order."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "account",
                condition=models.Q(revoked_at__isnull=True),
                name="apikey_active_name_unique_per_account",
                violation_error_message="An active key with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_key})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list
