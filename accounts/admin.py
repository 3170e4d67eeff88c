from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.credentials import record_staff_email_change, record_staff_password_set
from accounts.models import Account, Membership, User
from accounts.requests import staff_user
from accounts.services import (
    MANAGER_ROLES,
    add_member,
    change_role,
    may_edit_user,
    may_grant_privileges,
    may_set_credentials,
    membership_refusal,
    remove_member,
)
from accounts.twofactor.factors import method_count
from accounts.twofactor.policy import (
    REASON_MAX_LENGTH,
    ResetRefused,
    reason_error,
    reset_refusal,
    reset_two_factor,
)
from activity.events import RequestContext

# Whoever can set these can give themselves (or an accomplice) every permission there is.
PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


class MembershipForm(forms.ModelForm):
    """A membership in the admin, limited to what the signed-in staff user may do with it.

    The rules are accounts.services.membership_refusal; this form shows them (owner and admin
    left out of the role choices, rows the staff user may not touch disabled) and turns a forged
    submission into an error next to the field.
    """

    staff: User  # set per request by for_staff()

    @classmethod
    def for_staff(cls, staff: User) -> type[MembershipForm]:
        return type(cls.__name__, (cls,), {"staff": staff})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        existing = self.instance.pk is not None
        self.locked = existing and (
            membership_refusal(
                staff=self.staff,
                action="change",
                member=self.instance.user,
                roles=[self.instance.role],
            )
            is not None
        )
        # Who and where are fixed once a membership exists: moving one is a removal and an
        # addition, each recorded. Disabled fields ignore whatever is posted for them.
        for name in ("user", "account"):
            if existing and name in self.fields:
                self.fields[name].disabled = True
        role = self.fields.get("role")
        if role is None:
            return
        if self.locked:
            role.disabled = True
        elif not may_grant_privileges(self.staff):
            # Only the widget: a posted "admin" still reaches clean(), which says why not.
            role.widget.choices = [
                choice for choice in role.widget.choices if choice[0] not in MANAGER_ROLES
            ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.locked:
            return cleaned
        member = cleaned.get("user")
        if member is None and self.instance.user_id is not None:
            member = self.instance.user
        role = cleaned.get("role")
        if member is None or role is None:
            return cleaned  # the missing field has its own error
        existing = self.instance.pk is not None
        refusal = membership_refusal(
            staff=self.staff,
            action="change" if existing else "add",
            member=member,
            roles=[self.instance.role, role] if existing else [role],
        )
        if refusal is not None:
            self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)
        return cleaned


class MembershipFormSet(BaseInlineFormSet):
    def add_fields(self, form: MembershipForm, index: int | None) -> None:
        super().add_fields(form, index)
        if form.locked and DELETION_FIELD_NAME in form.fields:
            form.fields[DELETION_FIELD_NAME].disabled = True


def save_membership_formset(request: HttpRequest, formset: MembershipFormSet) -> None:
    """Send an inline's membership changes through accounts.services, which records each."""
    context = RequestContext.from_request(request)
    formset.save(commit=False)
    for membership in formset.deleted_objects:
        remove_member(
            membership=membership, actor=staff_user(request), as_staff=True, context=context
        )
    for membership, _ in formset.changed_objects:
        change_role(
            membership=membership,
            role=membership.role,
            actor=staff_user(request),
            as_staff=True,
            context=context,
        )
    for membership in formset.new_objects:
        add_member(
            account=membership.account,
            user=membership.user,
            role=membership.role,
            staff=staff_user(request),
            context=context,
        )


class BaseMembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 0
    readonly_fields = ["created_at"]

    def get_formset(
        self, request: HttpRequest, obj: Account | User | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet]:
        kwargs["form"] = MembershipForm.for_staff(staff_user(request))
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user", "account")


class MembershipInline(BaseMembershipInline):
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "api_key_limit",
        "max_key_lifetime_days",
        "credit_balance",
        "member_count",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["name", "memberships__user__email"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, account: Account) -> int:
        return account.memberships.count()

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: MembershipFormSet, change: bool
    ) -> None:
        save_membership_formset(request, formset)


class UserMembershipInline(BaseMembershipInline):
    autocomplete_fields = ["account"]
    fields = ["account", "role", "created_at"]


# Their Meta leaves out the parents' `field_classes`, which only concern a `username` field.
class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class ResetTwoFactorForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded in the person's accounts and emailed to them and their owners: say "
        "how they proved who they are.",
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"]
        if error := reason_error(reason):
            raise forms.ValidationError(error)
        return reason


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    change_form_template = "admin/accounts/user/change_form.html"
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    inlines = [UserMembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )

    def get_urls(self) -> list[URLPattern]:
        reset = path(
            "<id>/reset-two-factor/",
            self.admin_site.admin_view(self.reset_two_factor_view),
            name="accounts_user_reset_two_factor",
        )
        # Before the admin's own patterns, whose "<path:object_id>/" would match it first.
        return [reset, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_reset_two_factor": reset_refusal(staff_user(request)) is None,
        }
        return super().change_view(request, object_id, form_url, context)

    @method_decorator(require_http_methods(["GET", "POST"]))
    def reset_two_factor_view(self, request: HttpRequest, id: str) -> HttpResponse:
        """Ask for the reason, then remove every second factor of the user (superusers only)."""
        staff = staff_user(request)
        if reset_refusal(staff) is not None:
            raise PermissionDenied
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404("No such user.")
        change_url = reverse("admin:accounts_user_change", args=[user.pk])
        form = ResetTwoFactorForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reset_two_factor(
                    user=user,
                    staff=staff,
                    reason=form.cleaned_data["reason"],
                    context=RequestContext.from_request(request),
                )
            except ResetRefused as refused:
                form.add_error("reason", refused.message)
            else:
                self.message_user(
                    request,
                    f"Reset the two-factor authentication of {user.email}: they and their "
                    "accounts' owners were emailed.",
                    messages.SUCCESS,
                )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": user,
            "form": form,
            "method_count": method_count(user),
            "title": f"Reset the two-factor authentication of {user.email}?",
        }
        return TemplateResponse(
            request,
            "admin/accounts/user/reset_two_factor.html",
            context,
            status=422 if form.errors else 200,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not may_grant_privileges(staff_user(request)):
            # Read-only fields are left out of the form, so a forged POST cannot set them.
            readonly += PRIVILEGE_FIELDS
        if obj is not None and not may_set_credentials(staff_user(request), obj):
            readonly.append("email")
        return readonly

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        # The admin saves inside its own transaction: the record commits with the change.
        old_email = form.initial.get("email", obj.email) if change else obj.email
        super().save_model(request, obj, form, change)
        if change and "email" in form.changed_data:
            record_staff_email_change(
                user=obj,
                old_email=old_email,
                staff=staff_user(request),
                context=RequestContext.from_request(request),
            )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's "set password" page, refused where accounts.services.may_set_credentials
        says so; a password it sets is recorded and emailed in the same transaction."""
        user = self.get_object(request, unquote(id))
        if user is not None and not may_set_credentials(staff_user(request), user):
            raise PermissionDenied
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            # Django's page redirects only once it has set the password.
            if user is not None and request.method == "POST" and response.status_code == 302:
                record_staff_password_set(
                    user=user,
                    staff=staff_user(request),
                    context=RequestContext.from_request(request),
                )
        return response

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return super().has_change_permission(request, obj) and (
            obj is None or may_edit_user(staff_user(request), obj)
        )

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or may_edit_user(staff_user(request), obj)
        )

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: MembershipFormSet, change: bool
    ) -> None:
        save_membership_formset(request, formset)


admin.site.unregister(Group)
# A device's admin shows its secret and lets staff add or confirm one behind the person's back:
# authenticator apps change only through the Security page's services and the reset above.
admin.site.unregister(TOTPDevice)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Group | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not may_grant_privileges(staff_user(request)):
            # A group's permissions are its members' permissions: editing them grants them.
            readonly.append("permissions")
        return readonly


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role", "account__status"]
    search_fields = ["user__email", "account__name"]
    autocomplete_fields = ["user", "account"]
    list_select_related = ["user", "account"]

    def get_form(
        self,
        request: HttpRequest,
        obj: Membership | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        kwargs["form"] = MembershipForm.for_staff(staff_user(request))
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        # Who and where are fixed once a membership exists (see MembershipForm).
        return ["user", "account"] if obj is not None else []

    def _may(self, request: HttpRequest, action: str, obj: Membership | None) -> bool:
        return obj is None or (
            membership_refusal(
                staff=staff_user(request), action=action, member=obj.user, roles=[obj.role]
            )
            is None
        )

    def has_change_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        # Refused: the page shows the membership read-only and a POST is a 403.
        return super().has_change_permission(request, obj) and self._may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        # Also asked for each membership an account or user deletion would take with it.
        return super().has_delete_permission(request, obj) and self._may(request, "delete", obj)

    def save_model(
        self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool
    ) -> None:
        context = RequestContext.from_request(request)
        if change:
            change_role(
                membership=obj,
                role=obj.role,
                actor=staff_user(request),
                as_staff=True,
                context=context,
            )
            return
        created = add_member(
            account=obj.account,
            user=obj.user,
            role=obj.role,
            staff=staff_user(request),
            context=context,
        )
        obj.pk = created.pk  # the admin's log entry and redirect need the new row's id

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        remove_member(
            membership=obj,
            actor=staff_user(request),
            as_staff=True,
            context=RequestContext.from_request(request),
        )

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        context = RequestContext.from_request(request)
        for membership in queryset:
            remove_member(
                membership=membership, actor=staff_user(request), as_staff=True, context=context
            )


# Sign-in lockouts (accounts/lockout.py): staff unlock someone by deleting their attempts.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):  # type: ignore[misc]  # axes has no types
    @admin.action(description="Clean up expired attempts")
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # axes 8.3's action reads the time off attributes only its own requests carry (500).
        AxesProxyHandler.update_request(request)
        super().cleanup_expired_attempts(request, queryset)
