"""The /api/v1 JSON views. Authentication happens in api.middleware; each handler declares
its scope. Every lookup starts from `resources(request, Model)` and every new row from
`ownership(request)`, so no key reaches another account, and test keys (livemode false) and
live keys each see only their own world.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse

from api.body import FieldErrors, raise_for_errors, read_json
from api.errors import ApiError, ErrorCode, not_found
from api.pagination import paginate
from api.routes import ApiRequest, api_route, requires_key, requires_scope
from voice.models import Call, Campaign, Contact, Webhook
from voice.services import CALL_COST, InsufficientCredits, credit_balance, place_call
from voice.validation import (
    MAX_IMPORT,
    clean_campaign_status,
    clean_email,
    clean_events,
    clean_id,
    clean_name,
    clean_optional_id,
    clean_phone,
    clean_webhook_url,
    validate_fields,
    validate_object,
)

IMPORT_HINT = f"Import at most {MAX_IMPORT} contacts per request."
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


def read_body(request: ApiRequest) -> Any:
    return read_json(request, size_hint=IMPORT_HINT)


def no_content() -> HttpResponse:
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


def timestamp(value: Any) -> str:
    return value.isoformat()


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "livemode": contact.livemode,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email or None,
        "created_at": timestamp(contact.created_at),
        "updated_at": timestamp(contact.updated_at),
    }


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.pk,
        "livemode": campaign.livemode,
        "name": campaign.name,
        "status": campaign.status,
        "created_at": timestamp(campaign.created_at),
        "updated_at": timestamp(campaign.updated_at),
    }


def call_json(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk,
        "livemode": call.livemode,
        "to": call.to_number,
        "status": call.status,
        "contact_id": call.contact_id,
        "campaign_id": call.campaign_id,
        "created_at": timestamp(call.created_at),
    }


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.pk,
        "livemode": webhook.livemode,
        "url": webhook.url,
        "events": webhook.events,
        "created_at": timestamp(webhook.created_at),
    }


# Credits -----------------------------------------------------------------------------------


@requires_key
def get_credits(request: ApiRequest) -> HttpResponse:
    account = request.account
    balance = credit_balance(account)
    if balance is None:  # the account was deleted since the key authenticated
        return not_found()
    return JsonResponse(
        {
            "balance": balance,
            "account": account.name,
            "livemode": request.api_key.livemode,
        }
    )


# Calls -------------------------------------------------------------------------------------

CALL_FIELDS = {"contact_id": clean_id, "phone": clean_phone, "campaign_id": clean_optional_id}


@requires_scope("calls:read")
def list_calls(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Call), call_json)


@requires_scope("calls:write")
def create_call(request: ApiRequest) -> HttpResponse:
    """Queue a call to a contact or an E.164 number; a test key's call is only simulated."""
    data = validate_fields(read_body(request), CALL_FIELDS)
    errors: FieldErrors = {}
    contact = campaign = None
    if "contact_id" in data and "phone" in data:
        errors["contact_id"] = ["Give either contact_id or phone, not both."]
    elif "contact_id" not in data and "phone" not in data:
        errors["contact_id"] = ["Say whom to call: give contact_id or phone."]
    elif "contact_id" in data:
        contact = resources(request, Contact).filter(pk=data["contact_id"]).first()
        if contact is None:
            errors["contact_id"] = [
                f"There is no contact with this id in your account's {mode_name(request)} data."
            ]
    if data.get("campaign_id") is not None:
        campaign = resources(request, Campaign).filter(pk=data["campaign_id"]).first()
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
            to_number=contact.phone if contact else data["phone"],
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

CAMPAIGN_FIELDS = {"name": clean_name, "status": clean_campaign_status}


@requires_scope("campaigns:read")
def list_campaigns(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Campaign), campaign_json)


@requires_scope("campaigns:write")
def create_campaign(request: ApiRequest) -> HttpResponse:
    data = validate_fields(read_body(request), CAMPAIGN_FIELDS, required=["name"])
    campaign = Campaign.objects.create(**ownership(request), **data)
    return JsonResponse(campaign_json(campaign), status=201)


@requires_scope("campaigns:read")
def get_campaign(request: ApiRequest, pk: int) -> HttpResponse:
    return JsonResponse(campaign_json(get_or_404(request, Campaign, pk)))


@requires_scope("campaigns:write")
def update_campaign(request: ApiRequest, pk: int) -> HttpResponse:
    campaign = get_or_404(request, Campaign, pk)
    data = validate_fields(read_body(request), CAMPAIGN_FIELDS)
    for name, value in data.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=[*data, "updated_at"])
    return JsonResponse(campaign_json(campaign))


campaigns = api_route(GET=list_campaigns, POST=create_campaign)
campaign = api_route(GET=get_campaign, PATCH=update_campaign)


# Contacts ----------------------------------------------------------------------------------

CONTACT_FIELDS = {"name": clean_name, "phone": clean_phone, "email": clean_email}
CONTACT_REQUIRED = ("name", "phone")


@requires_scope("contacts:read")
def list_contacts(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Contact), contact_json)


@requires_scope("contacts:write")
def create_contacts(request: ApiRequest) -> HttpResponse:
    """Create one contact (a JSON object) or import up to MAX_IMPORT (a list), all or nothing."""
    data = read_body(request)
    if not isinstance(data, list):
        fields = validate_fields(data, CONTACT_FIELDS, required=CONTACT_REQUIRED)
        contact = Contact.objects.create(**ownership(request), **fields)
        return JsonResponse(contact_json(contact), status=201)
    if not 1 <= len(data) <= MAX_IMPORT:
        raise_for_errors({"body": [f"Send from 1 to {MAX_IMPORT} contacts (got {len(data)})."]})
    errors: FieldErrors = {}
    rows = []
    for index, item in enumerate(data):
        fields, item_errors = validate_object(
            item, CONTACT_FIELDS, required=CONTACT_REQUIRED, path=f"[{index}]."
        )
        errors.update(item_errors)
        rows.append(Contact(**ownership(request), **fields))
    raise_for_errors(errors)
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(rows)
    return JsonResponse({"data": [contact_json(contact) for contact in contacts]}, status=201)


@requires_scope("contacts:read")
def get_contact(request: ApiRequest, pk: int) -> HttpResponse:
    return JsonResponse(contact_json(get_or_404(request, Contact, pk)))


@requires_scope("contacts:write")
def update_contact(request: ApiRequest, pk: int) -> HttpResponse:
    contact = get_or_404(request, Contact, pk)
    data = validate_fields(read_body(request), CONTACT_FIELDS)
    for name, value in data.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*data, "updated_at"])
    return JsonResponse(contact_json(contact))


@requires_scope("contacts:write")
def delete_contact(request: ApiRequest, pk: int) -> HttpResponse:
    get_or_404(request, Contact, pk).delete()
    return no_content()


contacts = api_route(GET=list_contacts, POST=create_contacts)
contact = api_route(GET=get_contact, PATCH=update_contact, DELETE=delete_contact)


# Webhooks ----------------------------------------------------------------------------------

WEBHOOK_FIELDS = {"url": clean_webhook_url, "events": clean_events}


@requires_scope("webhooks:manage")
def list_webhooks(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Webhook), webhook_json)


@requires_scope("webhooks:manage")
def create_webhook(request: ApiRequest) -> HttpResponse:
    data = validate_fields(read_body(request), WEBHOOK_FIELDS, required=["url", "events"])
    webhook = Webhook.objects.create(**ownership(request), **data)
    return JsonResponse(webhook_json(webhook), status=201)


@requires_scope("webhooks:manage")
def delete_webhook(request: ApiRequest, pk: int) -> HttpResponse:
    deleted, _ = resources(request, Webhook).filter(pk=pk).delete()
    if not deleted:
        return not_found(f"There is no webhook {pk} in this account's {mode_name(request)} data.")
    return no_content()


webhooks = api_route(GET=list_webhooks, POST=create_webhook)
webhook = api_route(DELETE=delete_webhook)

credits = api_route(GET=get_credits)
