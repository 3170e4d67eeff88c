from django.urls import path

from accounts.members import views

app_name = "members"

urlpatterns = [
    path("", views.index, name="index"),
    path("invite/", views.invite_member, name="invite"),
    path("leave/", views.leave, name="leave"),
    path("two-factor/", views.two_factor_requirement, name="two_factor"),
    path("<int:pk>/role/", views.change_member_role, name="role"),
    path("<int:pk>/remove/", views.remove, name="remove"),
    path("invitations/<int:pk>/resend/", views.resend, name="resend"),
    path("invitations/<int:pk>/revoke/", views.revoke, name="revoke"),
]
