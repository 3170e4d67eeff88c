"""Settings → API Keys: the key list, the create dialog with the show-once reveal, revoking.

Every dialog URL also renders as a whole page, so the flow works without JavaScript. The rules
live in apikeys.services; these views only translate its answers into HTTP.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from accounts.models import Account, Membership, User
from apikeys.forms import ApiKeyForm
from apikeys.models import ApiKey
from apikeys.scopes import LEAST_PRIVILEGE_TIP, SCOPES
from apikeys.services import (
    AlreadyRevoked,
    Block,
    DuplicateSubmission,
    InvalidKeyInput,
    KeyActionRefused,
    create_key,
    creation_block,
    revoke_block,
    revoke_key,
)

# The page reloads its key list (and shows the new message) when this event reaches <body>.
KEYS_CHANGED_EVENT = "keysChanged"
# The Step 6 check of the guide; the endpoint itself belongs to the API.
VERIFY_PATH = "/api/v1/credits"


class AccountRequest(HttpRequest):
    """What accounts.middleware and django-htmx add to every signed-in request."""

    htmx: HtmxDetails
    user: User
    account: Account | None
    membership: Membership | None


@require_GET
@vary_on_headers("HX-Request")
def index(request: AccountRequest) -> HttpResponse:
    if request.account is None:
        # base.html tells a login without an account what to do.
        return render(request, "apikeys/index.html")
    template_name = "apikeys/index.html"
    if request.htmx and not request.htmx.history_restore_request:
        template_name += "#key-area"
    return render(request, template_name, key_area_context(request, request.account))


@require_http_methods(["GET", "POST"])
@never_cache  # the form carries a one-time token, the reveal carries the secret
@sensitive_variables("created", "context")  # never in an error report
def create(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    if request.method == "GET":
        block = creation_block(request.membership)
        if block is not None:
            return render_block(request, block)
        return render_form(request, ApiKeyForm(account=account))

    form = ApiKeyForm(request.POST, account=account)
    if form.is_valid():
        try:
            created = create_key(
                account=account,
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                creation_token=form.cleaned_data["creation_token"],
            )
        except KeyActionRefused as refused:
            return render_block(request, refused.block)
        except DuplicateSubmission as duplicate:
            # The secret was shown with the first response and cannot be shown again.
            return render_dialog(
                request, "apikeys/duplicate.html", {"api_key": duplicate.api_key}, status=409
            )
        except InvalidKeyInput as invalid:
            form.add_service_errors(invalid)
        else:
            # The message names the key, never its secret: messages live in a cookie.
            messages.success(request, f"API key “{created.api_key.name}” created.")
            context = {
                "api_key": created.api_key,
                "secret": created.secret,
                "curl_command": curl_command(request, created.secret),
            }
            return render_dialog(request, "apikeys/reveal.html", context)
    # A refused member learns why, not which field was wrong.
    block = creation_block(request.membership)
    if block is not None:
        return render_block(request, block)
    return render_form(request, form, status=422)


@require_http_methods(["GET", "POST"])
def revoke(request: AccountRequest, pk: int) -> HttpResponse:
    account = current_account(request)
    # Looked up among this account's keys only: another account's key is a 404.
    api_key = get_object_or_404(account.api_keys.select_related("revoked_by"), pk=pk)
    if request.method == "GET":
        block = revoke_block(request.user, account)
        if block is not None:
            return render_block(request, block)
        return render_dialog(request, "apikeys/revoke.html", {"api_key": api_key})

    try:
        revoke_key(key=api_key, user=request.user)
    except KeyActionRefused as refused:
        return render_block(request, refused.block)
    except AlreadyRevoked as already:
        messages.info(request, str(already))
    else:
        messages.success(
            request,
            f"API key “{api_key.name}” revoked. Applications using it can no longer call the API.",
        )
    if request.htmx:
        # The page closes the dialog and reloads its key list, which brings the message.
        return trigger_client_event(HttpResponse(status=204), KEYS_CHANGED_EVENT)
    return redirect("apikeys:index")


def current_account(request: AccountRequest) -> Account:
    if request.account is None:
        raise Http404("This login is not a member of any account.")
    return request.account


def key_area_context(request: AccountRequest, account: Account) -> dict[str, Any]:
    keys = account.api_keys.select_related("created_by", "revoked_by")
    active_keys: list[ApiKey] = list(keys.active())
    return {
        "active_keys": active_keys,
        "revoked_keys": list(keys.revoked().order_by("-revoked_at", "-id")),
        "key_limit": account.api_key_limit,
        "creation_block": creation_block(request.membership, len(active_keys)),
        "can_revoke": revoke_block(request.user, account) is None,
    }


def curl_command(request: HttpRequest, secret: str) -> str:
    url = request.build_absolute_uri(VERIFY_PATH)
    return (
        f'curl -X GET "{url}" \\\n'
        f'  -H "Authorization: Bearer {secret}" \\\n'
        '  -H "Content-Type: application/json"'
    )


def render_dialog(
    request: AccountRequest, template_name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    # In the dialog (an htmx request) only its content; without JavaScript, the same as a page.
    if request.htmx:
        template_name += "#dialog"
    return render(request, template_name, context, status=status)


def render_form(request: AccountRequest, form: ApiKeyForm, *, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "scopes": SCOPES,
        "selected_scopes": form.selected_scopes,
        "least_privilege_tip": LEAST_PRIVILEGE_TIP,
    }
    return render_dialog(request, "apikeys/create.html", context, status=status)


def render_block(request: AccountRequest, block: Block) -> HttpResponse:
    return render_dialog(request, "apikeys/blocked.html", {"refusal": block}, status=403)
