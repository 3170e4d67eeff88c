from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import EmailAuthenticationForm

# How long a reset link works, for the pages and the email that say so.
RESET_LINK = {"password_reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        views.ThrottledPasswordResetView.as_view(extra_email_context=RESET_LINK),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(extra_context=RESET_LINK),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.RecordedPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("settings/profile/", views.profile, name="profile"),
    path("settings/profile/email/", views.profile_email, name="profile_email"),
    path(
        "settings/profile/email/confirm/<str:token>/",
        views.profile_email_confirm,
        name="profile_email_confirm",
    ),
    path("settings/profile/password/", views.profile_password, name="profile_password"),
    path("account/switch/", views.switch_account, name="switch_account"),
    path("account/confirm-password/", views.confirm_password, name="confirm_password"),
]
