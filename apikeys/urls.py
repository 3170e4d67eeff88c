from django.urls import path

from apikeys import former_members, views

app_name = "apikeys"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/roll/", views.roll, name="roll"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("former-members/<int:user_id>/", former_members.former_member, name="former_member"),
]
