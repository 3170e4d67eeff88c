from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and members"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the receivers)
        from accounts.notifications import notify_member_event
        from activity.events import event_recorded

        event_recorded.connect(notify_member_event, dispatch_uid="accounts.notify_member_event")
