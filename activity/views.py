"""The activity page: the account's events, newest first, filtered by key or kind."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.requests import AccountRequest, current_account
from activity.forms import ActivityFilterForm
from activity.summaries import event_summary

EVENTS_PER_PAGE = 50


@require_GET
def activity_page(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    form = ActivityFilterForm(request.GET, account=account)
    events = account.activity_events.select_related("api_key", "related_key")
    if form.is_valid():
        key_id = form.cleaned_data["key"]
        if key_id is not None:
            events = events.for_key(account.api_keys.get(pk=key_id))
        if form.cleaned_data["event"]:
            events = events.filter(event_type=form.cleaned_data["event"])
    else:
        events = events.none()
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "events": [(event, event_summary(event)) for event in page],
        "filter_query": query.urlencode(),
        "filtered": any(request.GET.get(name) for name in ("key", "event")),
    }
    return render(request, "activity/index.html", context)
