"""One redaction rule (keybuzz_shared.redaction) for secret names and URL passwords, used by
settings, log lines, spans and dead-letter reasons; checked on every kind of URL the services
use, and on a running service whose NATS_URL carries a password."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import random
import string
import sys
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN as ROOT_TOKEN
from keybuzz_devstack.testing import eventually
from keybuzz_sandbox.echo import FORMS
from keybuzz_shared import tracing
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.kit.requester import Refusals
from keybuzz_shared.events import TenantArchived
from keybuzz_shared.logs import JsonFormatter
from keybuzz_shared.messaging import REASON_HEADER, Delivery, EventSubscription
from keybuzz_shared.redaction import (
    MASK,
    REDACTED,
    KnownSecrets,
    mask_tokens,
    redact_text,
    redact_value,
    remember_secrets,
    remote_excerpt,
    secret_scope,
)
from keybuzz_shared.service import Runtime
from keybuzz_shared.settings import load_settings
from keybuzz_tenant_sync.settings import TenantSyncSettings
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.test_event_consumption import dead_letters, definition, publish_all

# Every kind of URL a service is given ({pw}: the password) and what may be shown of it.
URL_KINDS = {
    "DATABASE_URL": "postgresql://keybuzz:{pw}@db.internal:5432/keybuzz_backend",
    "PRODUCT_DATABASE_URL": "postgres://keybuzz:{pw}@db.internal/keybuzz?sslmode=verify-full",
    "NATS_URL": "nats://orders:{pw}@nats.internal:4222",
    "NATS_URL over TLS": "tls://orders:{pw}@nats.internal:4222",
    "NATS_URL, a cluster": "nats://orders:{pw}@n1:4222,nats://orders:{pw}@n2:4222",
    "NATS_URL, a cluster with spaces": "tls://orders:{pw}@n1:4222, tls://orders:{pw}@n2:4222",
    "VAULT_ADDR": "https://approle:{pw}@vault.internal:8200/v1/secret/data/keybuzz",
    "SQS endpoint (moto)": "http://test:{pw}@127.0.0.1:5000/123456789012/keybuzz-orders",
    "SQS endpoint (AWS)": "https://AKIAEXAMPLE:{pw}@sqs.eu-west-1.amazonaws.com/123/q",
    "SMTP relay": "smtp://relay-user:{pw}@smtp.relay.example:587",
}
PASSWORDS = {
    "plain": "s3cretpw-4f2a",
    "percent-encoded": "p%40ss%3Aw%2Fd-4f2a",
    "holding @ and :": "p@ss:w@rd-4f2a",
    "holding , ; ? #": "p,w;x?y#z-4f2a",
}


@pytest.mark.parametrize("password", PASSWORDS.values(), ids=PASSWORDS.keys())
@pytest.mark.parametrize("url", URL_KINDS.values(), ids=URL_KINDS.keys())
def test_a_urls_password_is_masked_and_the_rest_stays_readable(url: str, password: str) -> None:
    text = f"could not connect to {url.format(pw=password)}: connection refused"
    masked = redact_text(text)
    assert password not in masked
    assert masked == f"could not connect to {url.format(pw=REDACTED)}: connection refused"


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://postgres@127.0.0.1:5432/keybuzz_backend",
        "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
        "tls://nats.internal:4222",
        "https://vault.internal:8200/v1/secret/data/keybuzz?version=2",
        "http://127.0.0.1:5000/queue@1",
        "https://example.com/a?b=c@d",
        "mailto:buyer@marketplace.amazon.fr",
        "reply to amazon.t1+r.abc@inbound.keybuzz.test at 10:32:44",
    ],
)
def test_urls_and_text_without_a_password_are_left_as_they_are(text: str) -> None:
    assert redact_text(text) == text


def test_values_named_like_secrets_are_masked_by_the_one_list_of_names() -> None:
    masked = redact_text(
        "error: password=hunter2 {'refreshToken': 'plain-refresh'} X-Amz-Access-Token: plain-"
        "access vault_secret_id=plain-id Authorization: Bearer plain.jwt next_token=page-2"
    )
    assert "hunter2" not in masked and "plain" not in masked
    assert "Authorization: Bearer [REDACTED]" in masked and "next_token=page-2" in masked


def test_a_token_named_pwd_in_a_query_string_is_masked() -> None:
    url = "https://ws.example/sales_ws?action=getitemtodolist&login=shop&pwd=plain-tok3n&version=1"
    masked = redact_text(f"GET {url} failed")
    assert "plain-tok3n" not in masked
    assert "login=shop&pwd=[REDACTED]&version=1" in masked


def test_settings_show_no_url_password_of_any_kind() -> None:
    password = PASSWORDS["holding @ and :"]
    settings = load_settings(
        TenantSyncSettings,
        {
            "NATS_URL": URL_KINDS["NATS_URL, a cluster"].format(pw=password),
            "DATABASE_URL": URL_KINDS["DATABASE_URL"].format(pw=PASSWORDS["percent-encoded"]),
            "VAULT_ADDR": URL_KINDS["VAULT_ADDR"].format(pw=password),
        },
    )
    shown = repr(settings)
    assert password not in shown and PASSWORDS["percent-encoded"] not in shown
    assert "nats://orders:[REDACTED]@n1:4222,nats://orders:[REDACTED]@n2:4222" in shown
    assert "postgresql://keybuzz:[REDACTED]@db.internal:5432/keybuzz_backend" in shown


def test_a_log_line_masks_url_passwords_in_message_args_extras_exception_and_stack() -> None:
    password = PASSWORDS["plain"]
    dsn = URL_KINDS["DATABASE_URL"].format(pw=password)
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "pool for %s failed", (dsn,), None, sinfo=f"at {dsn}"
    )
    record.server = urlsplit(URL_KINDS["NATS_URL"].format(pw=password))  # a parsed URL
    record.servers = [URL_KINDS["NATS_URL over TLS"].format(pw=password)]
    try:
        raise ConnectionError(f"cannot reach {dsn}")
    except ConnectionError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter("svc").format(record)
    entry = json.loads(line)
    assert password not in line
    assert entry["message"] == f"pool for {URL_KINDS['DATABASE_URL'].format(pw=REDACTED)} failed"
    assert entry["server"] == "nats://orders:[REDACTED]@nats.internal:4222"
    assert entry["servers"] == ["tls://orders:[REDACTED]@nats.internal:4222"]
    assert "cannot reach postgresql://keybuzz:[REDACTED]@" in entry["error"]
    assert "at postgresql://keybuzz:[REDACTED]@" in entry["stack"]


def test_redact_value_turns_a_parsed_url_into_its_masked_text() -> None:
    parsed = urlsplit("nats://operator:op-pass-4f2a@127.0.0.1:4222")
    assert redact_value(parsed) == "nats://operator:[REDACTED]@127.0.0.1:4222"


def test_a_span_records_an_exception_with_its_dsn_masked() -> None:
    tracing.configure("test")
    assert tracing._provider is not None
    exporter = InMemorySpanExporter()
    tracing._provider.add_span_processor(SimpleSpanProcessor(exporter))
    password = PASSWORDS["plain"]
    trace_id = uuid.uuid4().hex
    try:
        with pytest.raises(ConnectionError):  # the exception goes on, only the span is masked
            with tracing.consume_context(
                {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}, "tenant.x process"
            ):
                raise ConnectionError(
                    f"cannot reach {URL_KINDS['DATABASE_URL'].format(pw=password)}"
                )
        [span] = [
            s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id
        ]
    finally:
        exporter.shutdown()  # the provider is the process's: stop keeping spans
    [event] = span.events
    recorded = json.dumps(
        {"attributes": dict(event.attributes or {}), "status": span.status.description}
    )
    assert password not in recorded
    assert "cannot reach postgresql://keybuzz:[REDACTED]@" in str(event.attributes)
    assert span.status.description and "[REDACTED]" in span.status.description


async def test_a_service_whose_nats_url_holds_a_password_never_logs_or_dead_letters_it(
    start_service, private_nats, caplog
) -> None:
    """The probe service connects with the operator's user:password inside NATS_URL (allowed
    in production); NATS goes away and comes back ("NATS reconnected" names the server),
    and a handler fails with a DSN in its exception text (logged, then dead-lettered)."""
    caplog.set_level(logging.DEBUG)
    url = private_nats.spec.url
    nats_password = urlsplit(url).password
    assert nats_password and f":{nats_password}@" in url
    db_password = f"dsn-pass-{uuid.uuid4().hex[:8]}"
    dsn = URL_KINDS["DATABASE_URL"].format(pw=db_password)

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            raise RuntimeError(f"could not use {dsn}")

        EventSubscription(
            runtime,
            event_type=TenantArchived,
            handler=handle,
            purpose="leak",
            max_deliveries=2,
            retry_backoff=0.1,
        )

    service = await start_service(definition(register), NATS_URL=url, VAULT_TOKEN=ROOT_TOKEN)
    nc = service.runtime.nc
    private_nats.stop()
    await eventually(_async(lambda: not nc.is_connected or None))
    private_nats.start()
    reconnected = await eventually(_async(lambda: _record(caplog, "NATS reconnected")))
    await publish_all(service.runtime.js, [TenantArchived(tenant_id="leaky")])
    [letter] = await dead_letters(service.runtime.js, 1)

    formatter = JsonFormatter("probe")
    lines = [formatter.format(record) for record in caplog.records]
    for secret in (nats_password, db_password):
        assert not [line for line in lines if secret in line]
    assert json.loads(formatter.format(reconnected))["server"] == (
        f"nats://{urlsplit(url).username}:[REDACTED]@127.0.0.1:{urlsplit(url).port}"
    )
    retried = [json.loads(line) for line in lines if "will retry" in line]
    assert retried and "could not use postgresql://keybuzz:[REDACTED]@" in retried[0]["error"]
    reason = letter.headers[REASON_HEADER]
    assert db_password not in reason and "[REDACTED]@db.internal" in reason


def _record(caplog: pytest.LogCaptureFixture, message: str) -> logging.LogRecord | None:
    return next((r for r in caplog.records if r.getMessage() == message), None)


def _async(check: Any) -> Any:  # eventually() polls coroutines
    async def probe() -> Any:
        return check()

    return probe


# --- secrets known by value, in any form a remote echoes them -----------------------------

ECHOED_KEY = "36D71268-9ae3-9CC0/46dc+C6BD2E81FB60="


def _echoes(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "as sent": secret,
        "upper": secret.upper(),
        "lower": secret.lower(),
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "percent": quote(secret, safe=""),
        "percent lower": quote(secret, safe="").lower(),
        "form-encoded": quote_plus(secret),
        "json": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "html": html.escape(secret),
    }


@pytest.mark.parametrize("form", sorted(_echoes(ECHOED_KEY)))
def test_a_known_secret_is_masked_in_every_form_a_remote_echoes(form: str) -> None:
    echoed = _echoes(ECHOED_KEY)[form]
    masked = KnownSecrets([ECHOED_KEY]).redact(f'{{"error": "bad key {echoed} for shop 42"}}')
    assert echoed not in masked and "[REDACTED]" in masked
    assert masked.startswith('{"error": "bad key ') and masked.endswith(' for shop 42"}')


@pytest.mark.parametrize("user", ["", "a", "ab", "abc", "shop-1", "partner-id-4242"])
def test_a_secret_inside_a_longer_base64_is_masked_at_every_alignment(user: str) -> None:
    basic = base64.b64encode(f"{user}:{ECHOED_KEY}".encode()).decode()
    for alphabet in (basic, basic.translate(str.maketrans("+/", "-_"))):
        left = KnownSecrets([ECHOED_KEY]).redact(alphabet).replace("[REDACTED]", "")
        # What is left: the user's part and at most the two characters on each side that
        # mix its bits with the secret's, never enough of the secret to read it.
        assert len(left) <= len(base64.b64encode(f"{user}:".encode())) + 4, (alphabet, left)


def test_text_without_the_secret_and_short_values_are_left_alone() -> None:
    text = "HTTP 400 invalid shop 43115 (request 9f2c1a)"
    assert KnownSecrets([ECHOED_KEY, "43115", "short"]).redact(text) == text


def test_a_scope_masks_in_redact_text_what_was_remembered_in_it_and_nothing_after() -> None:
    echoed = _echoes(ECHOED_KEY)["base64"]
    remember_secrets([ECHOED_KEY])  # no scope: nothing to remember in
    assert echoed in redact_text(f"reason {echoed}")
    with secret_scope():
        remember_secrets([ECHOED_KEY])
        assert echoed not in redact_text(f"reason {echoed}")
    assert echoed in redact_text(f"reason {echoed}")


async def test_a_scope_reaches_the_tasks_started_in_it() -> None:
    echoed = _echoes(ECHOED_KEY)["hex"]
    with secret_scope(ECHOED_KEY):
        inside = await asyncio.create_task(asyncio.to_thread(redact_text, echoed))
    assert "[REDACTED]" in inside


# --- A remote's free text: tokens masked by their shape -----------------------------------

# Keys of every shape the marketplaces give, and the doubles': drawn from a seeded generator
# (the same keys at each run), each mixing digits and letters as issued keys do.
ALNUM = string.ascii_letters + string.digits
KEY_SHAPES: dict[str, Callable[[random.Random], str]] = {
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "UUID": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
    "hex": lambda rng: rng.randbytes(16).hex(),
    "base64url": lambda rng: base64.urlsafe_b64encode(rng.randbytes(24)).decode(),
    "alphanumerics": lambda rng: "".join(rng.choice(ALNUM) for _ in range(16)),
    "upper and digits": lambda rng: "".join(
        rng.choice(string.ascii_uppercase + string.digits) for _ in range(20)
    ),
}


def drawn_keys(shape: str, count: int) -> list[str]:
    rng = random.Random(shape)
    keys: list[str] = []
    while len(keys) < count:
        key = KEY_SHAPES[shape](rng)
        if any(c.isdigit() for c in key) and any(c.isalpha() for c in key):
            keys.append(key)
    return keys


@pytest.mark.parametrize("shape", KEY_SHAPES)
def test_a_token_in_any_form_is_masked_by_its_shape(shape: str) -> None:
    """Every form the doubles echo, for 50 keys of each shape, quoted in a refusal: none
    is left, by a mask that is not told the key."""
    leaks = []
    for key in drawn_keys(shape, 50):
        for name, echo in FORMS.items():
            form = echo(key)
            masked = mask_tokens(f"Invalid API key (received: {form}); retry")
            if form in masked or form.lower() in masked.lower():
                leaks.append((name, form))
            assert masked.startswith("Invalid API key (received: ")  # the words kept
    assert leaks == []


@pytest.mark.parametrize(
    "text",
    [
        "Invalid API key",
        "HTTP 401 Guest user not allowed",
        "Le jeton d'authentification est invalide ou a expiré; veuillez vous reconnecter",
        "Unauthorized: the access token provided is expired, revoked, or malformed.",
        "Fnac messages_update answered ERROR: ERR_101: Authentification échouée",
        "E1001 INVALID_CREDENTIALS invalid_grant M11 HTTP/1.1",
        "Back Market GET ws/sav answered HTTP 400: the request could not be processed",
        "held back inside Back Market's Retry-After (1.5 s left)",
        "unreadable Fnac answer to messages_query: answer larger than allowed (8388608)",
        "il y a un an et demi, en 2 ou 3 fois",
        "shop 43115, order 12345-67 of 2026-11-26",
        "BackMarket McDonald internationalization eBay HTTPS",
    ],
)
def test_words_numbers_and_codes_are_kept_by_the_mask(text: str) -> None:
    assert mask_tokens(text) == text


def test_invisible_and_full_width_characters_do_not_hide_a_token() -> None:
    key = str(uuid.UUID(int=random.Random(62).getrandbits(128), version=4))
    zero_width = "\u200b".join(key)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in key)
    for form in (zero_width, full_width, key.replace("-", "\u00ad")):
        masked = mask_tokens(f"invalid key {form} for this shop")
        assert masked == f"invalid key {MASK} for this shop", masked


def test_a_remote_excerpt_is_short_and_masks_before_it_cuts() -> None:
    """Masked first, so a token cut by the excerpt's end leaves no piece of it."""
    key = random.Random(4).randbytes(16).hex()
    said = "refused: " + "the key was wrong " * 10 + key
    excerpt = remote_excerpt(said, 60)
    assert len(excerpt) <= 60 and excerpt.endswith(MASK)
    assert key[:8] not in remote_excerpt(f"{'x ' * 40}{key}", 90)
    assert remote_excerpt("  Invalid\r\nAPI\tkey  ") == "Invalid  API key"
    # Masked again (a seam error's text re-raised by the services): the same text.
    once = mask_tokens(f"invalid key {key}")
    assert mask_tokens(once) == once == f"invalid key {MASK}"


def test_the_seams_errors_and_a_failed_reply_keep_no_token_of_what_the_remote_said() -> None:
    """Held where every connector's failure passes, whatever the connector built its error
    from: the call, the status and the marketplace's words and codes stay."""
    key = str(uuid.UUID(int=random.Random(7).getrandbits(128), version=4))
    said = f"ERR_101 invalid key (received: {key[::-1]})"
    errors = [
        seam.CallRefused("GET ws/sav", 400, f"HTTP 400 {said}", label="Back Market"),
        seam.ShopCredentialsRefused(f"GET ws/sav: HTTP 401 {said}", label="Back Market"),
        seam.CallUnavailable("GET ws/sav", said, label="Back Market"),
        seam.CallAnswerUnreadable("GET ws/sav", said, label="Back Market"),
        seam.CallOutcomeUnknown("POST ws/sav", said, label="Back Market"),
        seam.RequestRefused(f"Rakuten refused: {said}"),
        seam.GrantRefused(f"eBay refused the grant: {said}"),
    ]
    for error in errors:
        assert key[::-1] not in str(error) and "ERR_101 invalid key" in str(error), error
    assert "Back Market GET ws/sav answered HTTP 400: HTTP 400 ERR_101" in str(errors[0])
    reason = seam.failed_reply(said).reason or ""
    assert key[::-1] not in reason and reason.startswith("ERR_101 invalid key")


def test_a_refusals_error_object_keeps_its_code_before_its_message() -> None:
    """What an operator looks up in the marketplace's docs (Back Market's ``ErrorResponseV1``)."""
    said = {"error": {"code": "unauthenticated", "message": "Guest user not allowed"}}
    assert Refusals().reason(said) == "unauthenticated: Guest user not allowed"
    assert Refusals().reason({"error": {"message": "Guest user not allowed"}}) == (
        "Guest user not allowed"
    )
