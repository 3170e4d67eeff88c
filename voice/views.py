"""The /api/v1 JSON views. Authentication happens in api.middleware; each handler declares
its scope. Every lookup starts from `resources(request, Model)` and every new row from
`ownership(request)`, so no key reaches another account, and test keys (livemode false) and
live keys each see only their own world.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse

from api.body import BODY_ERRORS, Body, BodySchema, FieldErrors, parse_body, raise_for_errors
from api.errors import ApiError, ErrorCode, not_found
from api.pagination import PAGE_ERRORS, Page, paginate
from api.routes import ApiRequest, api_route, operation, requires_key, requires_scope
from voice import schemas, services
from voice.models import Call, Campaign, Contact, Webhook
from voice.objects import call_json, campaign_json, contact_json, delivery_json, webhook_json
from voice.services import CALL_COST, InsufficientCredits, credit_balance, place_call
from voice.webhooks import services as webhook_services
from voice.webhooks.delivery import WebhookDisabled
from voice.webhooks.events import TEST_EVENT

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
    campaign = services.create_campaign(**ownership(request), **body)
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
    services.update_campaign(campaign=campaign, changes=body)
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
        contact = services.create_contact(**ownership(request), **body)
        return JsonResponse(contact_json(contact), status=201)
    contacts = services.import_contacts(**ownership(request), contacts=body)
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
    services.update_contact(contact=contact, changes=body)
    return JsonResponse(contact_json(contact))


@operation(
    "Delete a contact (its calls keep their number).", status=204, errors=[ErrorCode.NOT_FOUND]
)
@requires_scope("contacts:write")
def delete_contact(request: ApiRequest, pk: int) -> HttpResponse:
    services.delete_contact(contact=get_or_404(request, Contact, pk))
    return no_content()


contacts = api_route(GET=list_contacts, POST=create_contacts)
contact = api_route(GET=get_contact, PATCH=update_contact, DELETE=delete_contact)


# Webhooks ----------------------------------------------------------------------------------

WEBHOOK_DISABLED_MESSAGE = (
    "Webhook {pk} is disabled ({reason}), so nothing is sent to it. Re-enable it first: PATCH "
    '/api/v1/webhooks/{pk} with {{"enabled": true}}.'
)


def webhook_disabled(error: WebhookDisabled) -> ApiError:
    reason = error.webhook.disabled_reason or "no reason recorded"
    return ApiError(
        ErrorCode.WEBHOOK_DISABLED,
        WEBHOOK_DISABLED_MESSAGE.format(pk=error.webhook.pk, reason=reason),
    )


def webhook_with_secret(webhook: Webhook, secret: str) -> schemas.WebhookWithSecret:
    return {**webhook_json(webhook), "secret": secret}


@operation("List webhooks, newest first.", response=Page[schemas.Webhook], errors=PAGE_ERRORS)
@requires_scope("webhooks:manage")
def list_webhooks(request: ApiRequest) -> HttpResponse:
    return paginate(request, resources(request, Webhook), webhook_json)


@operation(
    "Send the account's events to an https URL.",
    description="The answer holds the endpoint's signing `secret`, shown this once.",
    request=schemas.WEBHOOK_CREATE,
    response=schemas.WebhookWithSecret,
    status=201,
    errors=BODY_ERRORS,
)
@requires_scope("webhooks:manage")
def create_webhook(request: ApiRequest) -> HttpResponse:
    body = read_body(request, schemas.WEBHOOK_CREATE)
    try:
        created = webhook_services.create_webhook(**ownership(request), **body)
    except webhook_services.InvalidWebhook as error:
        raise_for_errors(error.errors)
        raise
    return JsonResponse(webhook_with_secret(*created), status=201)


@operation("Get a webhook.", response=schemas.Webhook, errors=[ErrorCode.NOT_FOUND])
@requires_scope("webhooks:manage")
def get_webhook(request: ApiRequest, pk: int) -> HttpResponse:
    return JsonResponse(webhook_json(get_or_404(request, Webhook, pk)))


@operation(
    "Change a webhook's URL or events, or re-enable it.",
    request=schemas.WEBHOOK_UPDATE,
    response=schemas.Webhook,
    errors=[*BODY_ERRORS, ErrorCode.NOT_FOUND],
)
@requires_scope("webhooks:manage")
def update_webhook(request: ApiRequest, pk: int) -> HttpResponse:
    webhook = get_or_404(request, Webhook, pk)
    body = read_body(request, schemas.WEBHOOK_UPDATE)
    try:
        webhook_services.update_webhook(
            webhook=webhook, url=body.get("url"), events=body.get("events")
        )
    except webhook_services.InvalidWebhook as error:
        raise_for_errors(error.errors)
        raise
    if body.get("enabled"):
        webhook_services.enable_webhook(webhook=webhook)
    return JsonResponse(webhook_json(webhook))


@operation("Remove a webhook and its delivery log.", status=204, errors=[ErrorCode.NOT_FOUND])
@requires_scope("webhooks:manage")
def delete_webhook(request: ApiRequest, pk: int) -> HttpResponse:
    webhook_services.delete_webhook(webhook=get_or_404(request, Webhook, pk))
    return no_content()


@operation(
    "Give a webhook a new signing secret.",
    description="The answer holds the new `secret`, shown this once. For 24 hours deliveries "
    "are signed with both the new and the previous secret (two v1 signatures), so the receiver "
    "can switch over without refusing one.",
    response=schemas.WebhookWithSecret,
    errors=[ErrorCode.NOT_FOUND],
)
@requires_scope("webhooks:manage")
def rotate_webhook_secret(request: ApiRequest, pk: int) -> HttpResponse:
    webhook = get_or_404(request, Webhook, pk)
    secret = webhook_services.rotate_secret(webhook=webhook)
    return JsonResponse(webhook_with_secret(webhook, secret))


@operation(
    "List a webhook's deliveries, newest first, each with its event and attempts.",
    response=Page[schemas.WebhookDelivery],
    errors=[*PAGE_ERRORS, ErrorCode.NOT_FOUND],
)
@requires_scope("webhooks:manage")
def list_webhook_deliveries(request: ApiRequest, pk: int) -> HttpResponse:
    webhook = get_or_404(request, Webhook, pk)
    return paginate(request, webhook_services.recent_deliveries(webhook), delivery_json)


@operation(
    f"Send a test event ({TEST_EVENT}) to this webhook only.",
    description=f"Whatever the webhook subscribes to; a `{TEST_EVENT}` event is never sent "
    "otherwise. Answers with the queued delivery: follow it in the deliveries list.",
    response=schemas.WebhookDelivery,
    status=202,
    errors=[ErrorCode.NOT_FOUND, ErrorCode.WEBHOOK_DISABLED],
)
@requires_scope("webhooks:manage")
def send_webhook_test(request: ApiRequest, pk: int) -> HttpResponse:
    webhook = get_or_404(request, Webhook, pk)
    try:
        delivery = webhook_services.send_test_event(webhook=webhook)
    except WebhookDisabled as error:
        raise webhook_disabled(error) from None
    return JsonResponse(delivery_json(delivery), status=202)


webhooks = api_route(GET=list_webhooks, POST=create_webhook)
webhook = api_route(GET=get_webhook, PATCH=update_webhook, DELETE=delete_webhook)
webhook_secret = api_route(POST=rotate_webhook_secret)
webhook_deliveries = api_route(GET=list_webhook_deliveries)
webhook_test = api_route(POST=send_webhook_test)

credits = api_route(GET=get_credits)
