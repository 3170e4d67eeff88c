"""The /api/v1 JSON views. Authentication happens in api.middleware; each handler declares
its scope. Every lookup starts from `resources(request, Model)` and every new row from
`ownership(request)`, so no key reaches another account, and test keys (livemode false) and
live keys each see only their own world.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse

from api.body import BODY_ERRORS, Body, BodySchema, FieldErrors, parse_body, raise_for_errors
from api.errors import ApiError, ErrorCode, not_found
from api.pagination import PAGE_ERRORS, Page, paginate
from api.routes import ApiRequest, api_route, operation, requires_key, requires_scope
from voice import schemas
from voice.models import Call, Campaign, Contact, Webhook
from voice.services import CALL_COST, InsufficientCredits, credit_balance, place_call

IMPORT_HINT = f"Import at most {schemas.MAX_IMPORT} contacts per request."
Resource = TypeVar("Resource", Contact, Campaign, Call, Webhook)


def resources(request: ApiRequest, model: type[Resource]) -> QuerySet[Resource]:
    """Return the rows of `model` the request's key may reach: its account's, in its mode."""
    return model.objects.filter(account=request.account, livemode=request.api_key.livemode)


def ownership(request: ApiRequest) -> dict[str, Any]:
    """Return the fields that put a new row in the key's account and mode."""
    return {"account": request.account, "livemode": request.api_key.livemode}


def mode_name(request: ApiRequest) -> str:
    return "live" if request.api_key.livemode else "test"


def get_or_404(request: ApiRequest, model: type[Resource], pk: int) -> Resource:
    found = resources(request, model).filter(pk=pk).first()
    if found is None:
        raise ApiError(
            ErrorCode.NOT_FOUND,
            f"There is no {model._meta.verbose_name} {pk} in this account's "
            f"{mode_name(request)} data.",
        )
    return found


def read_body(request: ApiRequest, schema: BodySchema[Body]) -> Body:
    return parse_body(request, schema, size_hint=IMPORT_HINT)


def no_content() -> HttpResponse:
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


def timestamp(value: datetime) -> str:
    return value.isoformat()


def contact_json(contact: Contact) -> schemas.Contact:
    return {
        "id": contact.pk,
        "livemode": contact.livemode,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email or None,
        "created_at": timestamp(contact.created_at),
        "updated_at": timestamp(contact.updated_at),
    }


def campaign_json(campaign: Campaign) -> schemas.Campaign:
    return {
        "id": campaign.pk,
        "livemode": campaign.livemode,
        "name": campaign.name,
        "status": campaign.status,
        "created_at": timestamp(campaign.created_at),
        "updated_at": timestamp(campaign.updated_at),
    }


def call_json(call: Call) -> schemas.Call:
    return {
        "id": call.pk,
        "livemode": call.livemode,
        "to": call.to_number,
        "status": call.status,
        "contact_id": call.contact_id,
        "campaign_id": call.campaign_id,
        "created_at": timestamp(call.created_at),
    }


def webhook_json(webhook: Webhook) -> schemas.Webhook:
    return {
        "id": webhook.pk,
        "livemode": webhook.livemode,
        "url": webhook.url,
        "events": webhook.events,
        "created_at": timestamp(webhook.created_at),
    }


# Credits -----------------------------------------------------------------------------------


@operation(
    "The account's credit balance (any valid key).",
    response=schemas.Credits,
    errors=[ErrorCode.NOT_FOUND],
)
@requires_key
def get_credits(request: ApiRequest) -> HttpResponse:
    account = request.account
    balance = credit_balance(account)
    if balance is None:  # the account was deleted since the key authenticated
        return not_found()
    credits: schemas.Credits = {
        "balance": balance,
        "account": account.name,
        "livemode": request.api_key.livemode,
    }
    return JsonResponse(credits)


# Calls -------------------------------------------------------------------------------------


@operation("List calls, newest first.", response=Page[schemas.Call], errors=PAGE_ERRORS)
@requires_scope("calls:read")
def list_calls(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Call), call_json)


@operation(
    "Queue a call to a contact or an E.164 number, optionally in a campaign "
    f"(live: {CALL_COST} credit; test: simulated, free).",
    request=schemas.CALL_CREATE,
    response=schemas.Call,
    status=201,
    errors=[*BODY_ERRORS, ErrorCode.INSUFFICIENT_CREDITS],
)
@requires_scope("calls:write")
def create_call(request: ApiRequest) -> HttpResponse:
    """Queue a call to a contact or an E.164 number; a test key's call is only simulated."""
    body = read_body(request, schemas.CALL_CREATE)
    errors: FieldErrors = {}
    contact = campaign = None
    if "contact_id" in body:
        contact = resources(request, Contact).filter(pk=body["contact_id"]).first()
        if contact is None:
            errors["contact_id"] = [
                f"There is no contact with this id in your account's {mode_name(request)} data."
            ]
    campaign_id = body.get("campaign_id")
    if campaign_id is not None:
        campaign = resources(request, Campaign).filter(pk=campaign_id).first()
        if campaign is None:
            errors["campaign_id"] = [
                f"There is no campaign with this id in your account's {mode_name(request)} data."
            ]
    raise_for_errors(errors)
    try:
        call = place_call(
            **ownership(request),
            contact=contact,
            campaign=campaign,
            to_number=contact.phone if contact else body["phone"],
        )
    except InsufficientCredits:
        raise ApiError(
            ErrorCode.INSUFFICIENT_CREDITS,
            f"A live call costs {CALL_COST} credit and this account has too few left. Add "
            "credits, or use a test key (vxp_test_) to make simulated calls for free.",
        ) from None
    return JsonResponse(call_json(call), status=201)


calls = api_route(GET=list_calls, POST=create_call)


# Campaigns ---------------------------------------------------------------------------------


@operation("List campaigns, newest first.", response=Page[schemas.Campaign], errors=PAGE_ERRORS)
@requires_scope("campaigns:read")
def list_campaigns(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Campaign), campaign_json)


@operation(
    "Create a campaign.",
    request=schemas.CAMPAIGN_CREATE,
    response=schemas.Campaign,
    status=201,
    errors=BODY_ERRORS,
)
@requires_scope("campaigns:write")
def create_campaign(request: ApiRequest) -> HttpResponse:
    body = read_body(request, schemas.CAMPAIGN_CREATE)
    campaign = Campaign.objects.create(**ownership(request), **body)
    return JsonResponse(campaign_json(campaign), status=201)


@operation("Get a campaign.", response=schemas.Campaign, errors=[ErrorCode.NOT_FOUND])
@requires_scope("campaigns:read")
def get_campaign(request: ApiRequest, pk: int) -> HttpResponse:
    return JsonResponse(campaign_json(get_or_404(request, Campaign, pk)))


@operation(
    "Change a campaign's name or status.",
    request=schemas.CAMPAIGN_UPDATE,
    response=schemas.Campaign,
    errors=[*BODY_ERRORS, ErrorCode.NOT_FOUND],
)
@requires_scope("campaigns:write")
def update_campaign(request: ApiRequest, pk: int) -> HttpResponse:
    campaign = get_or_404(request, Campaign, pk)
    body = read_body(request, schemas.CAMPAIGN_UPDATE)
    for name, value in body.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=[*body, "updated_at"])
    return JsonResponse(campaign_json(campaign))


campaigns = api_route(GET=list_campaigns, POST=create_campaign)
campaign = api_route(GET=get_campaign, PATCH=update_campaign)


# Contacts ----------------------------------------------------------------------------------


@operation("List contacts, newest first.", response=Page[schemas.Contact], errors=PAGE_ERRORS)
@requires_scope("contacts:read")
def list_contacts(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Contact), contact_json)


@operation(
    f"Create one contact, or import a list of up to {schemas.MAX_IMPORT} (all or nothing).",
    description="Created: the contact, or `{data: [...]}` for a list.",
    request=schemas.CONTACTS_CREATE,
    response=schemas.Contact | schemas.ContactImported,
    status=201,
    errors=BODY_ERRORS,
)
@requires_scope("contacts:write")
def create_contacts(request: ApiRequest) -> HttpResponse:
    """Create one contact (a JSON object) or import up to MAX_IMPORT (a list), all or nothing."""
    body = read_body(request, schemas.CONTACTS_CREATE)
    if not isinstance(body, list):
        contact = Contact.objects.create(**ownership(request), **body)
        return JsonResponse(contact_json(contact), status=201)
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            Contact(**ownership(request), **fields) for fields in body
        )
    imported: schemas.ContactImported = {"data": [contact_json(contact) for contact in contacts]}
    return JsonResponse(imported, status=201)


@operation("Get a contact.", response=schemas.Contact, errors=[ErrorCode.NOT_FOUND])
@requires_scope("contacts:read")
def get_contact(request: ApiRequest, pk: int) -> HttpResponse:
    return JsonResponse(contact_json(get_or_404(request, Contact, pk)))


@operation(
    "Change a contact.",
    request=schemas.CONTACT_UPDATE,
    response=schemas.Contact,
    errors=[*BODY_ERRORS, ErrorCode.NOT_FOUND],
)
@requires_scope("contacts:write")
def update_contact(request: ApiRequest, pk: int) -> HttpResponse:
    contact = get_or_404(request, Contact, pk)
    body = read_body(request, schemas.CONTACT_UPDATE)
    for name, value in body.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*body, "updated_at"])
    return JsonResponse(contact_json(contact))


@operation(
    "Delete a contact (its calls keep their number).", status=204, errors=[ErrorCode.NOT_FOUND]
)
@requires_scope("contacts:write")
def delete_contact(request: ApiRequest, pk: int) -> HttpResponse:
    get_or_404(request, Contact, pk).delete()
    return no_content()


contacts = api_route(GET=list_contacts, POST=create_contacts)
contact = api_route(GET=get_contact, PATCH=update_contact, DELETE=delete_contact)


# Webhooks ----------------------------------------------------------------------------------


@operation("List webhooks, newest first.", response=Page[schemas.Webhook], errors=PAGE_ERRORS)
@requires_scope("webhooks:manage")
def list_webhooks(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Webhook), webhook_json)


@operation(
    "Send the account's events to an https URL.",
    request=schemas.WEBHOOK_CREATE,
    response=schemas.Webhook,
    status=201,
    errors=BODY_ERRORS,
)
@requires_scope("webhooks:manage")
def create_webhook(request: ApiRequest) -> HttpResponse:
    body = read_body(request, schemas.WEBHOOK_CREATE)
    webhook = Webhook.objects.create(**ownership(request), **body)
    return JsonResponse(webhook_json(webhook), status=201)


@operation("Remove a webhook.", status=204, errors=[ErrorCode.NOT_FOUND])
@requires_scope("webhooks:manage")
def delete_webhook(request: ApiRequest, pk: int) -> HttpResponse:
    deleted, _ = resources(request, Webhook).filter(pk=pk).delete()
    if not deleted:
        return not_found(f"There is no webhook {pk} in this account's {mode_name(request)} data.")
    return no_content()


webhooks = api_route(GET=list_webhooks, POST=create_webhook)
webhook = api_route(DELETE=delete_webhook)

credits = api_route(GET=get_credits)
