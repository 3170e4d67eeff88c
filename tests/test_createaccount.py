from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import Account, Invitation
from tests.support.members import LINK
from tests.support.production import PRODUCTION_ENV, run


def test_createaccount_from_a_bare_shell_emails_an_owner_invitation(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    outbox = tmp_path / "mail"
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{database}",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox),
        "SITE_URL": "https://app.voxpria.test/",
        "PYTHONWARNINGS": "ignore",
    }
    migrated = run(["manage.py", "migrate", "--noinput"], env, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    result = run(
        [
            "manage.py",
            "createaccount",
            "Wayne Voice",
            "--owner",
            "Bruce@Wayne.test",
            "--limit",
            "3",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "emailed an owner invitation to bruce@wayne.test" in result.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT name, api_key_limit FROM accounts_account").fetchall() == [
            ("Wayne Voice", 3)
        ]
        assert db.execute("SELECT email, role FROM accounts_invitation").fetchall() == [
            ("bruce@wayne.test", "owner")
        ]
        assert db.execute("SELECT count(*) FROM accounts_user").fetchone() == (0,)
    assert not outbox.exists()  # the invitation is a job: the worker sends it
    worked = run(["manage.py", "run_worker", "--batch", "--no-reload", "--no-startup-delay"], env)
    assert worked.returncode == 0, worked.stderr
    [message] = [path.read_text() for path in outbox.iterdir()]
    assert "To: bruce@wayne.test" in message
    match = LINK.search(message)
    assert match and match.group(0).startswith("https://app.voxpria.test/invitations/")


@pytest.mark.django_db
def test_createaccount_refuses_bad_input_in_one_line() -> None:
    with pytest.raises(CommandError, match="Enter a valid email address"):
        call_command("createaccount", "Acme", owner="not-an-email", stdout=io.StringIO())
    with pytest.raises(CommandError, match="name"):
        call_command("createaccount", "Bad\u202ename", owner="a@b.test", stdout=io.StringIO())
    assert not Account.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_createaccount_uses_the_default_key_limit_and_the_system_invites(settings: object) -> None:
    call_command("createaccount", "Acme", owner="o@acme.test", stdout=io.StringIO())
    account = Account.objects.get()
    assert account.api_key_limit == settings.APIKEY_LIMIT_DEFAULT  # type: ignore[attr-defined]
    invitation = Invitation.objects.get()
    assert invitation.invited_by is None and invitation.role == "owner"
    assert account.activity_events.get().actor_label == "system"
    assert [message.to for message in mail.outbox] == [["o@acme.test"]]
