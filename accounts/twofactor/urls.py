from django.urls import path

from accounts.twofactor import session_views, views

urlpatterns = [
    path("settings/security/", views.security, name="security"),
    path(
        "settings/security/sessions/<int:session_id>/sign-out/",
        session_views.end_one_session,
        name="end_session",
    ),
    path(
        "settings/security/sessions/sign-out-others/",
        session_views.end_all_other_sessions,
        name="end_other_sessions",
    ),
]
