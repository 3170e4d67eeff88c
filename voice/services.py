"""Every write to the voice resources, the only path the API takes: each fires its webhook
event in its transaction (voice.webhooks.events), and a call also spends its credit.

Values arrive validated (voice.schemas checks the API's bodies); the rules here are the ones
a body cannot check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_tasks import task

from accounts.models import Account
from voice import schemas
from voice.models import Call, Campaign, Contact
from voice.objects import call_json, campaign_json, contact_json
from voice.webhooks.events import emit, emit_each
from voxkeys.db.prepared import PreparedQuery

# Credits a live call spends when it is placed; test calls are free.
CALL_COST = 1
# How long a test key's call "lasts": queued, then completed by the worker this much later.
SIMULATED_CALL_SECONDS = 2
# A test call to this number fails (call.failed), so integrations can try their failure path.
SIMULATED_FAILURE_NUMBER = "+15005550001"


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
    """Queue a call; a live one spends CALL_COST credits, a test one is simulated: free, and
    completed by the worker SIMULATED_CALL_SECONDS later (live calls stay queued until a
    telephony provider dials them).

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
    call = Call.objects.create(
        account=account,
        livemode=livemode,
        contact=contact,
        campaign=campaign,
        to_number=to_number,
        status=Call.Status.QUEUED,
    )
    if not livemode:
        ends_at = timezone.now() + timedelta(seconds=SIMULATED_CALL_SECONDS)
        complete_simulated_call.using(run_after=ends_at).enqueue(call.pk)
    emit(
        account=account,
        livemode=livemode,
        event_type="call.queued",
        data=event_data(call_json(call)),
    )
    return call


@task()
def complete_simulated_call(call_id: int) -> None:
    """End a test call as completed (failed, to SIMULATED_FAILURE_NUMBER) and fire its event.

    A second run of the job (the queue delivers at least once) finds it ended and does nothing.
    """
    with transaction.atomic():
        call = (
            Call.objects.select_for_update()
            .select_related("account")
            .filter(pk=call_id, livemode=False, status=Call.Status.QUEUED)
            .first()
        )
        if call is None:  # already completed (the job ran twice), or the account is gone
            return
        failed = call.to_number == SIMULATED_FAILURE_NUMBER
        call.status = Call.Status.FAILED if failed else Call.Status.COMPLETED
        call.save(update_fields=["status"])
        emit(
            account=call.account,
            livemode=False,
            event_type="call.failed" if failed else "call.completed",
            data=event_data(call_json(call)),
        )


def event_data(after: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An event's `data`: the object as it is now and, for a change, what it was before."""
    data: dict[str, Any] = {"object": dict(after)}
    if before is not None:
        data["previous_attributes"] = changed_attributes(before, after)
    return data


def changed_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in before.items()
        if name != "updated_at" and after.get(name) != value
    }


# Contacts ----------------------------------------------------------------------------------


@transaction.atomic
def create_contact(
    *, account: Account, livemode: bool, name: str, phone: str, email: str = ""
) -> Contact:
    contact = Contact.objects.create(
        account=account, livemode=livemode, name=name, phone=phone, email=email
    )
    emit(
        account=account,
        livemode=livemode,
        event_type="contact.created",
        data=event_data(contact_json(contact)),
    )
    return contact


@transaction.atomic
def import_contacts(
    *, account: Account, livemode: bool, contacts: Sequence[schemas.ContactCreate]
) -> list[Contact]:
    """Create all of `contacts` or none; each fires its own contact.created."""
    created = Contact.objects.bulk_create(
        Contact(account=account, livemode=livemode, **fields) for fields in contacts
    )
    emit_each(
        account=account,
        livemode=livemode,
        event_type="contact.created",
        items=[event_data(contact_json(contact)) for contact in created],
    )
    return created


@transaction.atomic
def update_contact(*, contact: Contact, changes: schemas.ContactUpdate) -> Contact:
    """Apply `changes` (the fields sent); contact.updated fires when a value changed."""
    before = contact_json(contact)
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*changes, "updated_at"])
    after = contact_json(contact)
    if changed_attributes(before, after):
        emit(
            account=contact.account,
            livemode=contact.livemode,
            event_type="contact.updated",
            data=event_data(after, before),
        )
    return contact


@transaction.atomic
def delete_contact(*, contact: Contact) -> None:
    """Delete the contact (its calls keep their number); contact.deleted carries it as it was."""
    deleted = contact_json(contact)
    account, livemode = contact.account, contact.livemode
    contact.delete()
    emit(account=account, livemode=livemode, event_type="contact.deleted", data=event_data(deleted))


# Campaigns ---------------------------------------------------------------------------------


@transaction.atomic
def create_campaign(
    *,
    account: Account,
    livemode: bool,
    name: str,
    status: Campaign.Status = Campaign.Status.DRAFT,
) -> Campaign:
    campaign = Campaign.objects.create(account=account, livemode=livemode, name=name, status=status)
    emit(
        account=account,
        livemode=livemode,
        event_type="campaign.created",
        data=event_data(campaign_json(campaign)),
    )
    return campaign


@transaction.atomic
def update_campaign(*, campaign: Campaign, changes: schemas.CampaignUpdate) -> Campaign:
    """Apply `changes` (the fields sent); campaign.updated fires when a value changed."""
    before = campaign_json(campaign)
    for name, value in changes.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=[*changes, "updated_at"])
    after = campaign_json(campaign)
    if changed_attributes(before, after):
        emit(
            account=campaign.account,
            livemode=campaign.livemode,
            event_type="campaign.updated",
            data=event_data(after, before),
        )
    return campaign


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
