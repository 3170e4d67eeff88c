"""Text that could deceive or corrupt (control and text-direction characters) and webhook URLs
that could point back into our network are refused, with a message that says what to fix."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Membership
from apikeys.models import ApiKey
from apikeys.services import InvalidKeyInput, create_key, edit_key, validate_key_input
from tests.factories import UserFactory
from tests.support.api import api_client, make_key
from voice import validation
from voice.models import Webhook

pytestmark = pytest.mark.django_db

CONTROL = [
    ("\x00", "control character (U+0000)"),  # NUL
    ("\x07", "control character (U+0007)"),  # BEL
    ("\x1b", "control character (U+001B)"),  # ESC
    ("\t", "tab (U+0009)"),
    ("\n", "line break (U+000A)"),
    ("\r", "line break (U+000D)"),
    ("\x7f", "control character (U+007F)"),  # DEL
    ("\x85", "control character (U+0085)"),  # NEL, C1
    ("\x9b", "control character (U+009B)"),  # CSI, C1
]
BIDI = [
    (chr(code), f"invisible text-direction character (U+{code:04X})")
    for code in [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
]
INVISIBLE = [
    (chr(code), f"invisible character (U+{code:04X})")
    for code in [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]
]
OTHER = [
    ("\u2028", "line separator (U+2028)"),
    ("\u2029", "line separator (U+2029)"),
    ("\U000e0041", "invisible tag character (U+E0041)"),
    ("\ud800", "unpaired surrogate (U+D800)"),
]
FORBIDDEN = [
    pytest.param(char, kind, id=f"U+{ord(char):04X}")
    for char, kind in CONTROL + BIDI + INVISIBLE + OTHER
]
# What a form or a JSON body can carry: a lone surrogate cannot be encoded as UTF-8 at all.
SENDABLE = [param for param in FORBIDDEN if param.id != "U+D800"]
ACCEPTED = [
    "Production Server – Main App",
    "Café Déjà Vu — Zürich",
    "Deploy 🚀 bot",
    "生产服务器 本番環境",
    "שרת ייצור (Tel Aviv)",
    "Main\u00a0App",  # a no-break space is a space
]


# Key names and descriptions ------------------------------------------------------------------


@pytest.mark.parametrize("char, kind", FORBIDDEN)
def test_the_service_refuses_unsafe_characters(char: str, kind: str) -> None:
    with pytest.raises(InvalidKeyInput) as refused:
        validate_key_input(f"Prod{char}Server", ["calls:read"], f"Deployed{char}on web-1")
    assert refused.value.errors == {
        "name": [f"Remove the {kind} from the name."],
        "description": [f"Remove the {kind} from the description."],
    }


@pytest.mark.parametrize("char", ["\x1b", "\n", "\x9b", "\u202e", "\u2066"])
def test_create_and_edit_store_nothing_unsafe(owner: Membership, char: str) -> None:
    with pytest.raises(InvalidKeyInput):
        create_key(account=owner.account, user=owner.user, name=f"a{char}b", scopes=["calls:read"])
    key = create_key(
        account=owner.account, user=owner.user, name="Safe", scopes=["calls:read"]
    ).api_key
    for name, description in [(f"Sa{char}fe", ""), ("Safe", f"web{char}1")]:
        with pytest.raises(InvalidKeyInput):
            edit_key(
                key=key, user=owner.user, name=name, description=description, scopes=["calls:read"]
            )
    assert list(ApiKey.objects.values_list("name", "description")) == [("Safe", "")]


@pytest.mark.parametrize("text", ACCEPTED)
def test_ordinary_unicode_is_accepted(owner: Membership, text: str) -> None:
    key = create_key(
        account=owner.account,
        user=owner.user,
        name=text,
        description=text,
        scopes=["calls:read"],
    ).api_key
    key.refresh_from_db()
    assert (key.name, key.description) == (text, text)


def create_form(account: Account, **fields: str) -> dict[str, object]:
    return {
        "name": "Production Server – Main App",
        "scopes": ["calls:read"],
        "creation_token": str(uuid.uuid4()),
        "account": account.pk,
        **fields,
    }


@pytest.mark.parametrize("char, kind", SENDABLE)
def test_the_create_form_shows_the_message_by_the_field(
    owner_client: Client, account: Account, char: str, kind: str
) -> None:
    response = owner_client.post(
        reverse("apikeys:create"), create_form(account, name=f"Prod{char}Server")
    )
    assert response.status_code == 422
    # Django's own form field refuses NUL before the service sees it, in its own words.
    message = "Null characters are not allowed." if char == "\x00" else f"Remove the {kind}"
    assert message in response.text
    assert not ApiKey.objects.exists()


def test_the_create_form_refuses_a_multi_line_description(
    owner_client: Client, account: Account
) -> None:
    response = owner_client.post(
        reverse("apikeys:create"), create_form(account, description="web-1\r\nweb-2")
    )
    assert response.status_code == 422
    assert "Remove the line break (U+000D) from the description." in response.text
    assert not ApiKey.objects.exists()


def test_the_create_form_accepts_an_en_dash(owner_client: Client, account: Account) -> None:
    response = owner_client.post(reverse("apikeys:create"), create_form(account))
    assert response.status_code == 200
    assert ApiKey.objects.get().name == "Production Server – Main App"


def test_account_names_in_the_admin(account: Account) -> None:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/accounts/account/{account.pk}/change/"
    data = {
        "name": "Acme\u202eecioV",
        "status": "active",
        "api_key_limit": 10,
        "credit_balance": 0,
        "api_rate_limit": 25,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Remove the invisible text-direction character (U+202E) from the name." in response.text
    account.refresh_from_db()
    assert account.name == "Acme Voice"
    assert client.post(url, {**data, "name": "Acme Voix – Québec"}).status_code == 302
    account.refresh_from_db()
    assert account.name == "Acme Voix – Québec"


# Webhook URLs --------------------------------------------------------------------------------

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
DNS = {
    "public.example.com": [PUBLIC_V4, PUBLIC_V6],
    "internal.example.com": ["10.0.0.1"],
    "mixed.example.com": [PUBLIC_V4, "10.0.0.1"],
    "loopback6.example.com": ["::1"],
    "ula.example.com": [PUBLIC_V6, "fd12:3456::1"],
    "nat64.example.com": ["64:ff9b::a00:1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "multicast.example.com": ["224.0.0.251"],
}


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Answer from DNS above, like getaddrinfo; names not in it do not resolve."""
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int, **kwargs: object) -> list[tuple]:
        asked.append((host, port))
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in DNS[host]
        ]

    monkeypatch.setattr(validation, "resolve", resolve)
    return asked


@pytest.fixture
def client(owner: Membership) -> Client:
    return api_client(make_key(owner, ["webhooks:manage"]))


def create_webhook(client: Client, url: str) -> object:
    body = {"url": url, "events": ["call.completed"]}
    return client.post("/api/v1/webhooks", json.dumps(body), content_type="application/json")


def url_error(response: object) -> str:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["url"]
    [message] = error["fields"]["url"]
    return message


NOT_PUBLIC = "Must be a public address; local and private networks are not allowed."


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "https://[64:ff9b::808:808]/hook",  # NAT64 of a public address: still an IPv4 inside
        "https://[64:ff9b:1::a00:1]/hook",  # local-use NAT64
        "https://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
        "https://[2002:808:808::1]/hook",
        "https://[2001:0:a00:1::1]/hook",  # Teredo
        "https://[::10.0.0.1]/hook",  # IPv4-compatible
        "https://[::8.8.8.8]/hook",
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped
        "https://[::ffff:8.8.8.8]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://224.0.0.1/hook",  # multicast
        "https://239.255.255.250/hook",
        "https://[ff0e::1]/hook",  # global-scope multicast, which ipaddress calls global
        "https://240.0.0.1/hook",  # reserved
        "https://255.255.255.255/hook",
        "https://0.0.0.0/hook",
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://198.18.0.1/hook",  # benchmarking
        "https://[2001:db8::1]/hook",  # documentation
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://[::]/hook",
    ],
)
def test_addresses_that_are_not_public_are_refused(client: Client, lookups: list, url: str) -> None:
    assert url_error(create_webhook(client, url)) == NOT_PUBLIC
    assert not lookups  # an address is not looked up
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example.com:80/hook",
        "https://public.example.com:8080/hook",
        "https://public.example.com:22/hook",
        "https://public.example.com:0/hook",
        "https://public.example.com:444/hook",
        f"https://{PUBLIC_V4}:6379/hook",
    ],
)
def test_ports_other_than_443_and_8443_are_refused(client: Client, lookups: list, url: str) -> None:
    assert url_error(create_webhook(client, url)) == (
        "Must use port 443 or 8443 (no port means 443)."
    )


@pytest.mark.parametrize(
    "url, looked_up",
    [
        ("https://public.example.com/hook", ("public.example.com", 443)),
        ("https://public.example.com:443/hook", ("public.example.com", 443)),
        ("https://public.example.com:8443/hook", ("public.example.com", 8443)),
        ("https://PUBLIC.example.com./hook", ("public.example.com", 443)),
        # Not resolvable now: accepted, and checked again on the address delivery connects to.
        ("https://not-yet.example.com/hook", ("not-yet.example.com", 443)),
    ],
)
def test_public_hosts_are_accepted(
    client: Client, lookups: list, url: str, looked_up: tuple[str, int]
) -> None:
    response = create_webhook(client, url)
    assert response.status_code == 201, response.content
    assert Webhook.objects.get().url == url
    # Only this host (the API's schema and the webhook service each apply the rule).
    assert set(lookups) == {looked_up}


@pytest.mark.parametrize("url", [f"https://{PUBLIC_V4}/hook", f"https://[{PUBLIC_V6}]:8443/hook"])
def test_public_addresses_are_accepted(client: Client, lookups: list, url: str) -> None:
    assert create_webhook(client, url).status_code == 201
    assert not lookups


@pytest.mark.parametrize("host", sorted(set(DNS) - {"public.example.com"}))
def test_a_host_resolving_to_any_address_that_is_not_public_is_refused(
    client: Client, lookups: list, host: str
) -> None:
    message = url_error(create_webhook(client, f"https://{host}/hook"))
    assert message == NOT_PUBLIC + " This host name resolves to such an address."
    # The address itself is not told: it could map out names only our network resolves.
    assert not any(address in message for address in DNS[host])
    assert set(lookups) == {(host, 443)}
    assert not Webhook.objects.exists()


@pytest.fixture
def webhook_admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    ("url", "events", "error"),
    [
        ("http://hooks.example.com/x", '["call.completed"]', "https URL"),
        ("https://10.0.0.1/x", '["call.completed"]', "public"),
        ("https://hooks.example.com:8080/x", '["call.completed"]', "443"),
        ("https://hooks.example.com/x", '["call.exploded"]', "Unknown event"),
    ],
)
def test_the_webhook_admin_applies_the_apis_rules(
    webhook_admin_client: Client, account: Account, url: str, events: str, error: str
) -> None:
    response = webhook_admin_client.post(
        "/admin/voice/webhook/add/",
        {"account": account.pk, "livemode": "on", "url": url, "events": events},
    )
    assert response.status_code == 200
    assert error in response.text
    assert not Webhook.objects.exists()


def test_the_webhook_admin_saves_a_good_webhook(
    webhook_admin_client: Client, account: Account
) -> None:
    response = webhook_admin_client.post(
        "/admin/voice/webhook/add/",
        {
            "account": account.pk,
            "livemode": "on",
            "url": "https://hooks.example.com/voxpria",
            "events": '["contact.created", "call.completed"]',
        },
    )
    assert response.status_code == 302
    assert Webhook.objects.get().events == ["call.completed", "contact.created"]


@pytest.mark.parametrize(
    "url",
    [
        # Each is a URL to 8.8.8.8 for Python's urlsplit, to the address before the backslash
        # for requests, urllib3, Chromium and Node.
        "https://169.254.169.254\\@8.8.8.8/latest/meta-data/",
        "https://10.0.0.1\\@8.8.8.8/",
        "https://127.0.0.1\\@[2606:4700:4700::1111]/",
        "https://public.example.com\\.internal/hook",
        "https://public.example.com/ho ok",
        'https://public.example.com/"hook"',
        "https://public.example.com/hook^1",
        "https://public.example.com/hook%zz",
        "https://public.example.com/hook%4",
        "https://public.example.com/{hook}",
        "https://bücher.example/hook",
    ],
)
def test_characters_urls_cannot_hold_are_refused_before_any_parsing(
    client: Client, lookups: list, url: str
) -> None:
    message = url_error(create_webhook(client, url))
    assert message.startswith("Must hold only the characters a URL may contain")
    assert not lookups
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://user@public.example.com/hook",
        "https://user:secret@public.example.com/hook",
        "https://10.0.0.1@8.8.8.8/",
        "https://8.8.8.8@public.example.com/",
        "https://@public.example.com/hook",
    ],
)
def test_user_info_is_refused(client: Client, lookups: list, url: str) -> None:
    assert url_error(create_webhook(client, url)) == (
        "Must not contain a user name or password (the part before @ in user@host)."
    )
    assert not lookups
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example.com/hooks/voxpria?token=a%20b&x=1#frag",
        "https://public.example.com/h~o_o-k.json;v=1",
        "https://xn--bcher-kva.example/hook",
        "https://public.example.com/path/@handle",
    ],
)
def test_urls_of_rfc_3986_characters_are_accepted(client: Client, lookups: list, url: str) -> None:
    response = create_webhook(client, url)
    assert response.status_code == 201, response.content
    assert Webhook.objects.get().url == url
