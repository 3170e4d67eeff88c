from django.urls import path

from accounts.twofactor import views

urlpatterns = [
    path("settings/security/", views.security, name="security"),
]
