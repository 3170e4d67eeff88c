from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from accounts.members import views as member_views
from api.errors import unknown_endpoint

urlpatterns = [
    # The activity log's admin was apikeys' KeyEvent until the activity app took it over.
    path(
        "admin/apikeys/keyevent/<path:rest>",
        RedirectView.as_view(url="/admin/activity/activityevent/%(rest)s", query_string=True),
    ),
    path(
        "admin/apikeys/keyevent/",
        RedirectView.as_view(url="/admin/activity/activityevent/", query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("accounts.twofactor.urls")),
    path("invitations/<str:token>/", member_views.accept, name="invitation"),
    path("settings/members/", include("accounts.members.urls")),
    # The account's activity log, reached from Settings -> API Keys (its URL since it began).
    path("settings/api-keys/activity/", include("activity.urls")),
    path("settings/api-keys/", include("apikeys.urls")),
    path("settings/webhooks/", include("voice.page_urls")),
    path("api/v1/", include("api.urls")),
    # Anything else under /api/ is a JSON 404, never an HTML page.
    re_path(r"^api/", unknown_endpoint),
]

# Errors raised outside views (a bad Host header, a bug) answer in JSON under /api/.
handler400 = "api.errors.bad_request"
handler500 = "api.errors.server_error"
