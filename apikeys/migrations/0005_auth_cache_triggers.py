"""Triggers that tell every worker's authentication cache what changed (apikeys/authcache.py).

PostgreSQL only. Each change to a key or an account is announced with pg_notify in the changing
transaction, so a worker hears of it when (and only if) it commits, whatever made it. A row
counts as changed when any column but the ones updated on the hot path (a key's last_used_at,
an account's credit_balance) differs: a column added later is covered without a new trigger.
"""

from django.db import migrations

CHANNEL = "voxkeys_auth_cache"

CREATE = f"""
CREATE FUNCTION voxkeys_auth_cache_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND to_jsonb(OLD) - 'last_used_at' = to_jsonb(NEW) - 'last_used_at' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('{CHANNEL}', 'key:' || OLD.key_digest);
    IF TG_OP = 'UPDATE' AND NEW.key_digest <> OLD.key_digest THEN
        PERFORM pg_notify('{CHANNEL}', 'key:' || NEW.key_digest);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION voxkeys_auth_cache_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND to_jsonb(OLD) - 'credit_balance' = to_jsonb(NEW) - 'credit_balance' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('{CHANNEL}', 'account:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION voxkeys_auth_cache_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', 'all');
    RETURN NULL;
END
$$;

CREATE TRIGGER voxkeys_auth_cache_key AFTER UPDATE OR DELETE ON apikeys_apikey
    FOR EACH ROW EXECUTE FUNCTION voxkeys_auth_cache_key_changed();
CREATE TRIGGER voxkeys_auth_cache_key_truncate AFTER TRUNCATE ON apikeys_apikey
    FOR EACH STATEMENT EXECUTE FUNCTION voxkeys_auth_cache_truncated();
CREATE TRIGGER voxkeys_auth_cache_account AFTER UPDATE OR DELETE ON accounts_account
    FOR EACH ROW EXECUTE FUNCTION voxkeys_auth_cache_account_changed();
CREATE TRIGGER voxkeys_auth_cache_account_truncate AFTER TRUNCATE ON accounts_account
    FOR EACH STATEMENT EXECUTE FUNCTION voxkeys_auth_cache_truncated();
"""

DROP = """
DROP TRIGGER IF EXISTS voxkeys_auth_cache_account_truncate ON accounts_account;
DROP TRIGGER IF EXISTS voxkeys_auth_cache_account ON accounts_account;
DROP TRIGGER IF EXISTS voxkeys_auth_cache_key_truncate ON apikeys_apikey;
DROP TRIGGER IF EXISTS voxkeys_auth_cache_key ON apikeys_apikey;
DROP FUNCTION IF EXISTS voxkeys_auth_cache_truncated();
DROP FUNCTION IF EXISTS voxkeys_auth_cache_account_changed();
DROP FUNCTION IF EXISTS voxkeys_auth_cache_key_changed();
"""


def run_on_postgresql(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_protection"),
        ("apikeys", "0004_usage"),
    ]

    operations = [
        migrations.RunPython(run_on_postgresql(CREATE), run_on_postgresql(DROP), elidable=False),
    ]
