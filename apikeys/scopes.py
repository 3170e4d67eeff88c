"""The permission scope catalogue, defined once: drives the form, validation, list, admin, API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    name: str
    allows: str
    use_case: str
    review: str  # what the key will be able to do, in plain words, for the review before creating


SCOPES: tuple[Scope, ...] = (
    Scope("calls:read", "View calls", "Dashboards", "see your calls and their outcomes"),
    Scope("calls:write", "Trigger calls", "CRM integration", "start calls to your contacts"),
    Scope("campaigns:read", "View campaigns", "Analytics", "see your campaigns"),
    Scope("campaigns:write", "Manage campaigns", "Automation", "create and change your campaigns"),
    Scope("contacts:read", "View contacts", "Contact sync", "see your contacts"),
    Scope(
        "contacts:write",
        "Manage contacts",
        "Imports",
        "add, import, change and delete your contacts",
    ),
    Scope(
        "webhooks:manage",
        "Manage webhooks",
        "Event-driven",
        "add and remove webhooks that receive your account's events",
    ),
)

SCOPES_BY_NAME: dict[str, Scope] = {scope.name: scope for scope in SCOPES}
SCOPE_NAMES: tuple[str, ...] = tuple(SCOPES_BY_NAME)
SCOPE_CHOICES: list[tuple[str, str]] = [(scope.name, scope.name) for scope in SCOPES]

LEAST_PRIVILEGE_TIP = (
    "Security Tip: Only grant permissions actually needed (principle of least privilege)."
)


def normalize_scopes(names: list[str] | tuple[str, ...] | set[str]) -> tuple[str, ...]:
    """Return the given scope names in catalogue order, without duplicates.

    Raises ValueError naming any scope that is not in the catalogue.
    """
    unknown = sorted(set(names) - set(SCOPE_NAMES))
    if unknown:
        raise ValueError(f"Unknown scope: {', '.join(unknown)}.")
    return tuple(name for name in SCOPE_NAMES if name in names)
