from django.urls import path

from accounts.twofactor import signin_views, views

urlpatterns = [
    path("settings/security/", views.security, name="security"),
    path("login/verify/", signin_views.verify, name="two_factor_verify"),
]
