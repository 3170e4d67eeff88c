"""The activity page: the account's events, newest first, filtered by key or kind."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.requests import AccountRequest, current_account
from activity.forms import ActivityFilterForm, key_suggestions
from activity.paging import event_page
from activity.summaries import event_summary


@require_GET
def activity_page(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    form = ActivityFilterForm(request.GET, account=account)
    events = account.activity_events.select_related("api_key", "related_key")
    page = None
    # The box shows the key it filters by as its masked form, whatever named it.
    key_text = request.GET.get("key", "")
    if form.is_valid():
        api_key = form.cleaned_data["key"]
        if api_key is not None:
            events = events.for_key(api_key)
            key_text = api_key.masked_key
        if form.cleaned_data["event"]:
            events = events.filter(event_type=form.cleaned_data["event"])
        page = event_page(
            events, before=form.cleaned_data["before"], after=form.cleaned_data["after"]
        )
    query = request.GET.copy()
    for place in ("before", "after", "page"):
        query.pop(place, None)
    context = {
        "form": form,
        "key_text": key_text,
        "page": page,
        "events": [(event, event_summary(event)) for event in page.events] if page else [],
        "filter_query": query.urlencode(),
        "filtered": any(request.GET.get(name) for name in ("key", "event")),
    }
    return render(request, "activity/index.html", context)


@require_GET
def key_choices(request: AccountRequest) -> HttpResponse:
    """The filter's key suggestions (htmx fills the datalist with them as one types)."""
    text = request.GET.get("key", "").strip()[:100]
    keys = key_suggestions(current_account(request), text)
    return render(request, "activity/index.html#key-options", {"keys": keys})
