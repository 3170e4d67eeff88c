from django.urls import path

from activity import views

app_name = "activity"

urlpatterns = [
    path("", views.activity_page, name="index"),
    path("keys/", views.key_choices, name="key_choices"),
]
