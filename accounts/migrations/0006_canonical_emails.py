"""Store every email in its canonical form (accounts/emails.py), which lookups now match exactly.

Stops, changing nothing, when two users' emails have the same canonical form: which of the two
logins keeps the address is for a person to decide.
"""

import unicodedata

from django.db import migrations


def canonical_email(email):
    # A copy of accounts.emails.canonical_email as it was when this migration was written.
    return unicodedata.normalize("NFKC", email).strip().casefold()


def canonicalize_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    by_canonical = {}
    for pk, email in User.objects.order_by("pk").values_list("pk", "email"):
        by_canonical.setdefault(canonical_email(email), []).append((pk, email))
    collisions = {key: users for key, users in by_canonical.items() if len(users) > 1}
    if collisions:
        lines = [
            f"  {key}: " + ", ".join(f"{email!r} (id {pk})" for pk, email in users)
            for key, users in sorted(collisions.items())
        ]
        raise RuntimeError(
            "These users' emails are one address in canonical form (NFKC, casefold, trimmed):\n"
            + "\n".join(lines)
            + "\nChange or delete all but one of each group (the admin, or manage.py shell), "
            "then run migrate again. Nothing was changed."
        )
    for key, [(pk, email)] in by_canonical.items():
        if key != email:
            User.objects.filter(pk=pk).update(email=key)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_invitations")]

    operations = [
        # Going back keeps the canonical forms: the code before this looked emails up
        # case-insensitively, so they still sign in there.
        migrations.RunPython(canonicalize_emails, migrations.RunPython.noop, elidable=True),
    ]
