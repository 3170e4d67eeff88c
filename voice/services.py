"""Writes to the voice resources that carry a rule beyond "validate and save"."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from accounts.models import Account
from voice.models import Call, Campaign, Contact

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
