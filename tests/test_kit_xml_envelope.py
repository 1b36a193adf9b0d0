"""An XML API's status envelope declared (kit/xml_answers.py): its status and errors
read, their texts without a secret, a refusal said with its codes ("later" ones asked again),
an answer whose errors are its items' left to the caller, an envelope named by its root
with errors of elements, a token's refusal renewed, and a login's refusal the credentials'.
No server."""

from __future__ import annotations

import logging

import httpx
import pytest
from keybuzz_shared.connectors.kit.requester import Garbled, Refusal
from keybuzz_shared.connectors.kit.xml_answers import StatusEnvelope, listed
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    RequestRefused,
)

NS = "urn:test"


class Off(Exception):
    pass


ENVELOPE = StatusEnvelope(
    ns=NS,
    unreadable=Off,
    accepting=frozenset({"OK"}),
    refusing=frozenset({"ERROR", "FATAL"}),
    later=frozenset({"E_LATER"}),
    token=frozenset({"E_TOKEN"}),
    per_item=frozenset({"update_response"}),
    text_chars=20,
)


def answer(root: str, status: str, *errors: tuple[str, str]) -> bytes:
    said = "".join(f'<error code="{c}" severity="ERROR">{t}</error>' for c, t in errors)
    return f'<{root} xmlns="{NS}" status="{status}">{said}</{root}>'.encode()


def read(data: bytes) -> StatusEnvelope.Answer:
    return ENVELOPE.read(data, 1024, lambda text: text.replace("s3cret", "[REDACTED]"))


def test_an_answer_gives_its_status_and_its_errors_without_a_secret() -> None:
    got = read(answer("query_response", "ERROR", ("E_1", "key s3cret is wrong, very")))
    assert got.status == "ERROR"
    # cut at the declared length, the cut said (redaction.remote_excerpt)
    assert got.errors == (StatusEnvelope.Error("E_1", "ERROR", "key [REDACTED] is w…"),)
    assert ENVELOPE.refusal(got) == Refusal("ERROR E_1", later=False)
    assert listed(got.errors) == "E_1: key [REDACTED] is w…"
    assert listed(()) == "no error given"


def test_an_accepted_answer_refuses_nothing_and_a_later_code_asks_again() -> None:
    assert ENVELOPE.refusal(read(answer("query_response", "OK"))) is None
    later = read(answer("query_response", "FATAL", ("E_LATER", "busy")))
    assert ENVELOPE.refusal(later) == Refusal("FATAL E_LATER", later=True)


def test_an_answer_whose_errors_are_its_items_is_left_to_the_caller() -> None:
    assert ENVELOPE.refusal(read(answer("update_response", "ERROR"))) is None
    own = read(answer("update_response", "ERROR", ("E_1", "no")))
    assert ENVELOPE.refusal(own) == Refusal("ERROR E_1")


def test_an_envelope_named_by_its_root_with_errors_of_elements() -> None:
    """``status_at`` None: the root's name is its status, any other root accepted, in any
    namespace; each error's code and text its children's; later only when every code is."""
    named = StatusEnvelope(
        ns=None,
        unreadable=Off,
        status_at=None,
        accepting=None,
        refusing=frozenset({"error_answer"}),
        later=frozenset({"E_LATER"}),
        all_later=True,
        error_text=("message", "details/detail"),
    )

    def said(*codes: str) -> StatusEnvelope.Answer:
        errors = "".join(
            f"<error><type>T</type><code>{c}</code><message>no</message>"
            "<details><detail>key s3cret</detail></details></error>"
            for c in codes
        )
        data = f'<error_answer xmlns="urn:any">{errors}</error_answer>'.encode()
        return named.read(data, 1024, lambda text: text.replace("s3cret", "[REDACTED]"))

    assert said("E_1").errors == (StatusEnvelope.Error("E_1", "", "no key [REDACTED]"),)
    assert named.refusal(said("E_LATER")) == Refusal("error_answer E_LATER", later=True)
    assert named.refusal(said("E_LATER", "E_1")) == Refusal("error_answer E_1, E_LATER")
    result = named.read(b'<any_result xmlns="urn:x"><a/></any_result>', 1024, str)
    assert result.status == "any_result" and named.refusal(result) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'<query_response xmlns="urn:test"/>', "<query_response> has no status"),
        (answer("query_response", "MAYBE"), "unknown status 'MAYBE'"),
        (b'<query_response xmlns="urn:other" status="OK"/>', "not in urn:test"),
    ],
)
def test_an_answer_off_the_envelope_is_unreadable(data: bytes, reason: str) -> None:
    with pytest.raises(Off, match=reason):
        read(data)


def test_an_answer_cut_short_is_garbled_and_the_wrong_root_unreadable() -> None:
    with pytest.raises(Garbled):
        read(answer("query_response", "OK")[:-5])
    with pytest.raises(Off, match="expected <update_response>, got <query_response>"):
        ENVELOPE.expect_root(read(answer("query_response", "OK")).root, "update")


def test_refusals_renew_a_token_and_name_the_credentials_at_login() -> None:
    spec = ENVELOPE.spec(
        "Market",
        logging.getLogger(__name__),
        login="auth",
        credentials_refused=lambda detail, errors: PermissionError(detail, errors),
        refused=lambda call, status, errors: LookupError(call, status, errors),
        max_response_bytes=1024,
    )
    # the other outcomes are the seam's, named with the label
    assert str(spec.errors.unavailable("query", "down")) == "Market query unavailable: down"
    assert "Market" in str(spec.errors.outcome_unknown("update", "cut"))
    refusals = spec.refusals
    ok = httpx.Response(200)
    assert refusals.expired is not None and refusals.error is not None
    assert refusals.expired(ok, read(answer("q_response", "ERROR", ("E_TOKEN", "x"))))
    assert refusals.expired(ok, read(answer("q_response", "ERROR", ("E_9", "Token expired"))))
    assert not refusals.expired(ok, read(answer("q_response", "ERROR", ("E_1", "no"))))
    assert refusals.expired(httpx.Response(403), None)
    refused = read(answer("auth_response", "FATAL", ("E_1", "bad key")))
    login = refusals.error("auth", 200, refused)
    assert isinstance(login, PermissionError) and login.args[1][0].code == "E_1"
    assert refusals.error("query", 200, refused).args == ("query", "FATAL", refused.errors)
    assert isinstance(refusals.error("auth", 401, None), PermissionError)
    assert refusals.error("query", 500, None).args == ("query", "HTTP 500", ())


class MarketRefused(StatusEnvelope.Refused):
    label = "Market"


class MarketKeyRefused(StatusEnvelope.CredentialsRefused):
    label = "Market"


def test_the_kits_errors_keep_the_status_and_codes_and_name_the_marketplace() -> None:
    errors = (
        StatusEnvelope.Error("E_1", "ERROR", "no"),
        StatusEnvelope.Error("E_2", "FATAL", "x" * 300),
    )
    refused = MarketRefused("query", "FATAL", errors)
    assert isinstance(refused, RequestRefused)
    assert (refused.service, refused.status, refused.codes) == ("query", "FATAL", ("E_1", "E_2"))
    # a run longer than any word is shaped like a token: masked (redaction.mask_tokens)
    assert str(refused) == "Market query answered FATAL: E_1: no; E_2: …"
    key = MarketKeyRefused("", errors[:1])
    assert isinstance(key, CredentialsRefused) and key.codes == ("E_1",)
    assert str(key) == "Market refused the shop's credentials: E_1: no"
    assert str(MarketKeyRefused("HTTP 401")) == "Market refused the shop's credentials: HTTP 401"
