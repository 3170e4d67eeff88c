"""Give every webhook made before signing existed its own signing secret."""

from django.db import migrations


def add_signing_secrets(apps, schema_editor):
    from voice.webhooks.secrets import encrypt_secret, new_signing_secret

    Webhook = apps.get_model("voice", "Webhook")
    for webhook in Webhook.objects.filter(secret_encrypted="").only("pk").iterator():
        Webhook.objects.filter(pk=webhook.pk, secret_encrypted="").update(
            secret_encrypted=encrypt_secret(new_signing_secret())
        )


class Migration(migrations.Migration):
    dependencies = [("voice", "0005_delivery_attempts_in_flight")]

    operations = [migrations.RunPython(add_signing_secrets, migrations.RunPython.noop)]
