"""Writes to the voice resources that carry a rule beyond "validate and save"."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet

from accounts.models import Account
from voice.models import Call, Campaign, Contact
from voxkeys.db.prepared import PreparedQuery

# Credits a live call spends when it is placed; test calls are free.
CALL_COST = 1


class InsufficientCredits(Exception):
    """The account has fewer credits than a live call costs."""


@transaction.atomic
def place_call(
    *,
    account: Account,
    livemode: bool,
    to_number: str,
    contact: Contact | None = None,
    campaign: Campaign | None = None,
) -> Call:
    """Create a call; a live one spends CALL_COST credits, a test one is only simulated.

    Raises InsufficientCredits, creating nothing, when a live call cannot be paid for.
    """
    if livemode:
        # One conditional UPDATE, not read-then-write: concurrent calls queue on the row lock
        # and each re-checks the balance it finds, so the balance can never go below zero.
        # `account` may be a partial copy loaded at authentication: its balance is not trusted.
        paid = Account.objects.filter(pk=account.pk, credit_balance__gte=CALL_COST).update(
            credit_balance=F("credit_balance") - CALL_COST
        )
        if not paid:
            raise InsufficientCredits
    return Call.objects.create(
        account=account,
        livemode=livemode,
        contact=contact,
        campaign=campaign,
        to_number=to_number,
        status=Call.Status.QUEUED if livemode else Call.Status.SIMULATED,
    )


def _balance_query(account_id: int) -> QuerySet[Account, tuple[Any, ...]]:
    return Account.objects.filter(pk=account_id).values_list("credit_balance")[:1]


# The API's deadline, as for the key lookup the balance used to come with.
_read_balance = PreparedQuery(Account, _balance_query, 0, deadline="API_AUTH_STATEMENT_TIMEOUT")


def credit_balance(account: Account) -> int | None:
    """The account's balance (None: the account was deleted since), as the key's lookup read
    it or, when the account came from the authentication cache (which leaves the balance out:
    it changes with every call), read now with a prepared query rather than by loading the
    deferred field through the ORM."""
    if "credit_balance" not in account.get_deferred_fields():
        return account.credit_balance
    row = _read_balance(account.pk)
    if row is None:
        return None
    account.credit_balance = row[0]
    return account.credit_balance
