
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_protection'),
        ('apikeys', '0005_auth_cache_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The table is apikeys_keyevent, created by apikeys 0002: this app takes over the model,
    # its rows stay where they are.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='ActivityEvent',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('event_type', models.CharField(choices=[('created', 'Created'), ('edited', 'Edited'), ('rolled', 'Rolled'), ('revoked', 'Revoked'), ('expired', 'Expired'), ('leaked', 'Leaked'), ('member_added', 'Member added'), ('member_changed', 'Member role changed'), ('member_removed', 'Member removed')], max_length=20, verbose_name='event')),
                    ('actor_email', models.CharField(blank=True, max_length=254)),
                    ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                    ('user_agent', models.CharField(blank=True, max_length=200)),
                    ('details', models.JSONField(blank=True, default=dict)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='activity_events', to='accounts.account')),
                    ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('api_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='apikeys.apikey')),
                    ('related_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='apikeys.apikey')),
                ],
                options={
                    'db_table': 'apikeys_keyevent',
                    'ordering': ['-created_at', '-id'],
                    'indexes': [models.Index(fields=['account', '-created_at', '-id'], name='keyevent_account_time'), models.Index(fields=['api_key', '-created_at'], name='keyevent_key_time')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
