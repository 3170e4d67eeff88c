"""Every body the resource endpoints take and every object they answer with, declared once.

Requests are validated from the raw body by api.body.parse_body (strict: no "1" for a number,
no true for an id; unknown fields refused); responses are TypedDicts the views build, so mypy
checks the shape served. The OpenAPI document is generated from both.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    StringConstraints,
    Tag,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    with_config,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError
from typing_extensions import TypedDict

from api.body import BodySchema
from api.routes import MAX_ID
from voice.models import NAME_MAX_LENGTH, URL_MAX_LENGTH, WEBHOOK_EVENTS
from voice.models import Call as CallModel
from voice.models import Campaign as CampaignModel
from voice.models import Webhook as WebhookModel
from voice.models import WebhookDelivery as DeliveryModel
from voice.validation import clean_events, clean_webhook_url
from voxkeys.safetext import unsafe_character, unsafe_character_error

MAX_IMPORT = 1000
EMAIL_MAX_LENGTH = 254
# [0-9], not \d: \d also matches other scripts' digits.
PHONE_PATTERN = r"^\+[1-9][0-9]{1,14}$"
PHONE_MESSAGE = "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
ID_MESSAGE = "Must be the integer id of a resource in your account."
BODY = ConfigDict(extra="forbid", strict=True)


# Field types -------------------------------------------------------------------------------


def refuse_unsafe_text(value: Any, info: ValidationInfo) -> Any:
    """Apply the project's one safe-text rule, naming the field (voxkeys.safetext)."""
    if isinstance(value, str):
        unsafe = unsafe_character_error(value, info.field_name or "text")
        if unsafe:
            raise PydanticCustomError("unsafe_text", unsafe)
    return value


def answer_with(message: str) -> WrapValidator:
    """Answer any failure of the inner type (wrong type, pattern, range) with one message."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except PydanticValidationError:
            raise PydanticCustomError("invalid", message) from None

    return WrapValidator(validate)


def clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise PydanticCustomError("blank", "Must not be blank.")
    if len(value) > NAME_MAX_LENGTH:
        raise PydanticCustomError(
            "too_long", f"Must be at most {NAME_MAX_LENGTH} characters (it has {len(value)})."
        )
    return value


@cache
def refused_characters() -> str:
    """The rule's refused characters as a regex class body, asked of the rule itself."""
    # Surrogates are left out: JSON text cannot carry them unpaired, and a regex engine that
    # counts UTF-16 units would read them as halves of every emoji.
    refused = [
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and unsafe_character(chr(code)) is not None
    ]
    ranges: list[list[int]] = []
    for code in refused:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        escape(start) if start == end else f"{escape(start)}-{escape(end)}" for start, end in ranges
    )


def escape(code: int) -> str:
    # \uXXXX reads the same in ECMA-262 and Python; astral characters are written as themselves.
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


class SafeNameJsonSchema:
    """SafeName's JSON schema, built when a document asks for it: the scan takes a moment."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        safe, visible = f"[^{refused_characters()}]", f"[^\\s{refused_characters()}]"
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": NAME_MAX_LENGTH,
            "pattern": f"^{safe}*{visible}{safe}*$",
            "description": "Leading and trailing spaces are trimmed. No control, invisible or "
            "text-direction characters.",
        }


# A name a person typed: the safe-text rule, trimmed, not blank, at most NAME_MAX_LENGTH.
SafeName = Annotated[
    str, AfterValidator(clean_name), BeforeValidator(refuse_unsafe_text), SafeNameJsonSchema()
]
Phone = Annotated[
    str,
    StringConstraints(pattern=PHONE_PATTERN),
    answer_with(PHONE_MESSAGE),
    BeforeValidator(refuse_unsafe_text),
    Field(description="E.164: + then country code and number.", examples=["+14155550100"]),
]
ResourceId = Annotated[int, Field(ge=1, le=MAX_ID), answer_with(ID_MESSAGE)]


def clean_email(value: Any, info: ValidationInfo) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > EMAIL_MAX_LENGTH:
        raise PydanticCustomError(
            "invalid", f"Must be an email address of at most {EMAIL_MAX_LENGTH} characters."
        )
    # Before the format: the domain part's IDNA encoding would quietly drop invisible ones.
    refuse_unsafe_text(value, info)
    try:
        EmailValidator()(value)
    except ValidationError:
        raise PydanticCustomError(
            "invalid", "Must be a valid email address, e.g. ada@example.com."
        ) from None
    return value


Email = Annotated[
    str,
    PlainValidator(clean_email),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH},
                {"type": "string", "const": ""},
                {"type": "null"},
            ],
            "description": "Empty or null for none.",
        }
    ),
]
CAMPAIGN_STATUS_SCHEMA = {"type": "string", "enum": CampaignModel.Status.values}
CampaignStatus = Annotated[
    CampaignModel.Status,
    answer_with(f"Must be one of {', '.join(CampaignModel.Status.values)}."),
    WithJsonSchema(CAMPAIGN_STATUS_SCHEMA),
]
EVENTS_SCHEMA = {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}}
WebhookEvents = Annotated[
    list[str], PlainValidator(clean_events), WithJsonSchema({**EVENTS_SCHEMA, "minItems": 1})
]
WebhookUrl = Annotated[
    str,
    PlainValidator(clean_webhook_url),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "pattern": "^https://",
            "maxLength": URL_MAX_LENGTH,
            "description": "An https URL on a public host, port 443 or 8443.",
        }
    ),
]


# Request bodies ----------------------------------------------------------------------------


@with_config(BODY)
class ContactCreate(TypedDict):
    name: SafeName
    phone: Phone
    email: NotRequired[Email]


@with_config(BODY)
class ContactUpdate(TypedDict, total=False):
    """Only the fields sent change."""

    name: SafeName
    phone: Phone
    email: Email


def import_size(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Checked first, so a list that is too long is refused without validating its items.
    if isinstance(value, list) and not 1 <= len(value) <= MAX_IMPORT:
        raise PydanticCustomError(
            "import_size", f"Send from 1 to {MAX_IMPORT} contacts (got {len(value)})."
        )
    return handler(value)


ContactImport = Annotated[
    list[ContactCreate],
    Field(
        min_length=1,
        max_length=MAX_IMPORT,
        title="ContactImport",
        description="All or nothing: one bad contact and none is created.",
    ),
    WrapValidator(import_size),
]


def json_shape(value: Any) -> str:
    return "array" if isinstance(value, list) else "object"


# One contact (an object) or an import (a list).
ContactsCreate = Annotated[
    Annotated[ContactCreate, Tag("object")] | Annotated[ContactImport, Tag("array")],
    Discriminator(json_shape),
]


@with_config(BODY)
class CampaignCreate(TypedDict):
    name: SafeName
    status: NotRequired[CampaignStatus]


@with_config(BODY)
class CampaignUpdate(TypedDict, total=False):
    name: SafeName
    status: CampaignStatus


# Whom a call goes to: exactly one of these.
CALL_TARGETS = ("contact_id", "phone")


@with_config(
    ConfigDict(
        **BODY,
        json_schema_extra={"oneOf": [{"required": [field]} for field in CALL_TARGETS]},
    )
)
class CallCreate(TypedDict, total=False):
    contact_id: Annotated[ResourceId, Field(description="Call this contact of yours...")]
    phone: Annotated[Phone, Field(description="...or this E.164 number (not both).")]
    campaign_id: ResourceId | None


def one_call_target(body: CallCreate) -> CallCreate:
    given = [field for field in CALL_TARGETS if field in body]
    if len(given) == 2:
        raise field_error("contact_id", "Give either contact_id or phone, not both.")
    if not given:
        raise field_error("contact_id", "Say whom to call: give contact_id or phone.")
    return body


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error of the whole body that is about one field (api.body puts it under `field`)."""
    return PydanticCustomError("field", message, {"field": field})


@with_config(BODY)
class WebhookCreate(TypedDict):
    url: WebhookUrl
    events: WebhookEvents


ENABLE_MESSAGE = "Only true: it re-enables a disabled webhook (delete one you no longer want)."


@with_config(BODY)
class WebhookUpdate(TypedDict, total=False):
    """Only the fields sent change."""

    url: WebhookUrl
    events: WebhookEvents
    enabled: Annotated[
        Literal[True],
        answer_with(ENABLE_MESSAGE),
        Field(description="true re-enables a disabled or failing webhook."),
    ]


CONTACT_CREATE = BodySchema[ContactCreate](ContactCreate)
CONTACTS_CREATE = BodySchema[ContactCreate | list[ContactCreate]](ContactsCreate)
CONTACT_UPDATE = BodySchema[ContactUpdate](ContactUpdate)
CAMPAIGN_CREATE = BodySchema[CampaignCreate](CampaignCreate)
CAMPAIGN_UPDATE = BodySchema[CampaignUpdate](CampaignUpdate)
CALL_CREATE = BodySchema[CallCreate](Annotated[CallCreate, AfterValidator(one_call_target)])
WEBHOOK_CREATE = BodySchema[WebhookCreate](WebhookCreate)
WEBHOOK_UPDATE = BodySchema[WebhookUpdate](WebhookUpdate)


# Responses ---------------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Livemode = Annotated[
    bool,
    Field(description="true if made with a live key, false if made with a test key (test mode)."),
]
RESPONSE = ConfigDict(extra="forbid")


@with_config(RESPONSE)
class Contact(TypedDict):
    id: Id
    livemode: Livemode
    name: str
    phone: Annotated[str, Field(pattern=PHONE_PATTERN)]
    email: str | None
    created_at: Timestamp
    updated_at: Timestamp


@with_config(RESPONSE)
class ContactImported(TypedDict):
    data: list[Contact]


@with_config(RESPONSE)
class Campaign(TypedDict):
    id: Id
    livemode: Livemode
    name: str
    status: Annotated[str, WithJsonSchema(CAMPAIGN_STATUS_SCHEMA)]
    created_at: Timestamp
    updated_at: Timestamp


@with_config(RESPONSE)
class Call(TypedDict):
    id: Id
    livemode: Livemode
    to: Annotated[str, Field(pattern=PHONE_PATTERN)]
    status: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": CallModel.Status.values,
                "description": "A test key's call is queued, then completed within seconds "
                "(simulated: nobody is dialled); simulated for test calls made before that.",
            }
        ),
    ]
    contact_id: int | None
    campaign_id: int | None
    created_at: Timestamp


@with_config(RESPONSE)
class Webhook(TypedDict):
    id: Id
    livemode: Livemode
    url: Annotated[str, Field(json_schema_extra={"format": "uri"})]
    events: Annotated[list[str], WithJsonSchema(EVENTS_SCHEMA)]
    status: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": WebhookModel.Status.values,
                "description": "failing: its latest delivery failed; disabled: nothing is sent "
                "until it is re-enabled.",
            }
        ),
    ]
    failing_since: Annotated[Timestamp | None, Field(description="When it began failing.")]
    disabled_reason: Annotated[str | None, Field(description="Why it was disabled.")]
    created_at: Timestamp


@with_config(RESPONSE)
class WebhookWithSecret(Webhook):
    secret: Annotated[
        str,
        Field(
            description="The signing secret (whsec_...), shown only in this answer: keep it to "
            "verify the webhook-signature header."
        ),
    ]


@with_config(RESPONSE)
class WebhookAttempt(TypedDict):
    number: Annotated[int, Field(ge=1)]
    started_at: Timestamp
    duration_ms: int | None
    status_code: Annotated[int | None, Field(description="None: no answer (see error).")]
    error: Annotated[str | None, Field(description="Why there was no answer.")]
    response_body: Annotated[str, Field(description="The start of the receiver's answer.")]


@with_config(RESPONSE)
class WebhookDelivery(TypedDict):
    id: Id
    livemode: Livemode
    webhook_id: Id
    event: Annotated[
        dict[str, Any],
        Field(description="The body sent: {id, type, created, livemode, data}."),
    ]
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": DeliveryModel.Status.values})]
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    created_at: Timestamp
    attempts: Annotated[list[WebhookAttempt], Field(description="Oldest first.")]


@with_config(RESPONSE)
class Credits(TypedDict):
    balance: Annotated[int, Field(description="Calling credits left.")]
    account: Annotated[str, Field(description="The account's name.")]
    livemode: Annotated[bool, Field(description="true for a live key, false for a test key.")]
