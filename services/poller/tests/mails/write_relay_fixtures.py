"""Writes relay/*.eml: the relay mails the repo's tests, benchmarks and sandbox build.

A snapshot, committed: golden.json records what the parser made of each, and a
change of parser must give the same (test_parse_same_results.py). Run again only to
add a builder's mail; files already there are left as they are (their Message-IDs
and dates were drawn when written):

    .venv/bin/python services/poller/tests/mails/write_relay_fixtures.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # the tests' own modules (mailkit, test_*)
sys.path.insert(0, str(HERE.parents[3]))  # the repo root: bench/

INBOUND = "amazon.ecomlg-001.fr.abcdefghijklmnop@inbound.keybuzz.test"
MX_STAMPS = (
    f"X-KeyBuzz-Inbound-Address: {INBOUND}\r\n"
    "X-KeyBuzz-Content-Digest: sha256:" + "ab" * 32 + "\r\n"
    "X-KeyBuzz-Accepted-At: 2026-11-22T10:00:01.250000+00:00\r\n"
).encode()


def _from_test_relay_mail() -> dict[str, bytes]:
    import test_relay_mail as t

    mails: dict[str, bytes] = {"french": t.stamped(t.relay())}
    forged = t.relay()
    forged["X-KeyBuzz-Inbound-Address"] = "amazon.other.de.zzzzzzzzzzzzzzzz@inbound.keybuzz.test"
    mails["forged-stamp-below"] = t.stamped(forged)
    mails["german-iso-8859-1"] = t.stamped(
        t.relay(
            "------------- Beginn der Nachricht -------------\nHallo, Grüße\n"
            "------------- Ende der Nachricht -------------\n",
            charset="iso-8859-1",
        )
    )
    mails["cp1252-labelled-latin1-8bit"] = t.stamped(
        t.relay("x", charset="iso-8859-1", cte="8bit")
    ).replace(b"\nx\n", "\nIl manque 5 \x80 \x92a\x92\n".encode("latin-1"))
    mails["windows-1252"] = t.stamped(t.relay("Prix : 12 € — « merci »", charset="windows-1252"))
    eight_bit = t.stamped(t.relay("placeholder", cte="8bit")).replace(
        b"placeholder", "Grüße".encode()
    )
    mails["unknown-charset"] = eight_bit.replace(b'charset="utf-8"', b"charset=x-no-such")
    mails["utf8-labelled-us-ascii"] = eight_bit.replace(b'charset="utf-8"', b"charset=us-ascii")
    mails["raw-8bit-latin1-subject"] = t.stamped(t.relay()).replace(
        b"Subject: ", "Subject: Réclamation ".encode("latin-1"), 1
    )
    mails["raw-8bit-utf8-from-name"] = t.stamped(t.relay()).replace(
        b"From: Jean", "From: Jérôme".encode(), 1
    )
    return mails


def _from_test_relay_mail_bodies() -> dict[str, bytes]:
    import test_relay_mail as t

    mails: dict[str, bytes] = {}
    quoted = (
        "------------- Begin message -------------\n\nStill nothing, please refund.\n\n"
        "On Fri, Nov 20, 2026 at 9:00 AM Shop <shop@example.com> wrote:\n"
        "> We shipped it on Monday.\n------------- End message -------------\n"
    )
    mails["quoted-history"] = t.stamped(t.relay(quoted))
    html = t.relay()
    html.set_content(
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>------------- Begin message -------------</p>"
        f"<p>Hello,<br>where is order {t.ORDER}? &amp; thanks</p>"
        "<blockquote><p>Your order has shipped.</p></blockquote>"
        "<p>------------- End message -------------</p></body></html>",
        subtype="html",
    )
    mails["html-only"] = t.stamped(html)
    attached = t.relay()
    attached.add_attachment(
        b"%PDF-1.4 " * 50, maintype="application", subtype="pdf", filename="facture.pdf"
    )
    attached.add_attachment(
        b"\x89PNG....", maintype="image", subtype="png", filename="photo colis.png"
    )
    attached.add_attachment(
        b"x", maintype="application", subtype="octet-stream", filename="reçu n°1.txt"
    )
    mails["attachments"] = t.stamped(attached)
    no_id = t.relay()
    del no_id["Message-ID"]
    mails["no-message-id-delivered"] = t._delivered(no_id.as_bytes(), "a")
    mails["no-message-id-mx-digest"] = t._delivered(MX_STAMPS + no_id.as_bytes(), "b")
    inner = t.relay("an older mail, not the buyer's words")
    forwarded = t.relay()
    forwarded.add_attachment(inner)
    mails["attached-mail"] = t.stamped(forwarded)
    return mails


def _handwritten() -> dict[str, bytes]:
    """Shapes the tests write by hand, and RFC 2047 words in the headers we read."""
    buyer, order = "k4x9z2m7q1w3e5r@marketplace.amazon.fr", "402-1234567-7654321"
    return {
        "three-text-parts": MX_STAMPS
        + (
            f"From: Jean - Amazon Marketplace <{buyer}>\r\nSubject: Commande {order}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            "Bonjour, le colis est arrive casse.\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "Vm9pY2kgbGEgcGhvdG8gZHUgY2FydG9uIChjaS1kZXNzdXMpLg==\r\n"
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            "filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Pouvez-vous me rembourser ? Merci, =C3=A0 bient=C3=B4t.=\r\n\r\n--b--\r\n"
        ).encode(),
        "unterminated-multipart": (
            f"From: <x@marketplace.amazon.fr>\r\nContent-Type: multipart/mixed; boundary=zz\r\n"
            f"Subject: t\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhello {order}"
        ).encode(),
        "rfc2047-headers": MX_STAMPS
        + (
            f"From: =?UTF-8?Q?J=C3=A9r=C3=B4me_-_Amazon_Marketplace?= <{buyer}>\r\n"
            f"Subject: =?ISO-8859-1?Q?R=E9clamation?= =?UTF-8?B?w6AgdHJhaXRlcg==?= {order}\r\n"
            "Date: Sat, 22 Nov 2026 10:00:00 +0100\r\nMessage-ID: <rfc2047@amazonses.com>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n"
        ).encode(),
        "rfc2047-edge-cases": MX_STAMPS
        + (
            # adjacent words (the space between goes), a latin-1 label on a cp1252 byte (0x80),
            # a word of an unknown charset, a malformed word, a folded subject
            f"From: =?iso-8859-1?q?Ren=E9e?= =?iso-8859-1?q?_-_Amazon_Marketplace?= <{buyer}>\r\n"
            f"Subject: =?iso-8859-1?q?5_=80_rembours=E9s?= =?x-unknown?q?abc?=\r\n"
            f" =?utf-8?q?broken {order}\r\n"
            "Message-ID: <edge@amazonses.com>\r\n\r\nBonjour\r\n"
        ).encode(),
        "raw-8bit-cp1252-headers": MX_STAMPS
        + (
            f"From: Ren\xe9e - Amazon Marketplace <{buyer}>\r\n"
            f"Subject: Re\xe7u 12 \x80 \x96 {order}\r\n"
            "Content-Type: text/plain; charset=windows-1252\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nMerci \x80\r\n"
        ).encode("latin-1"),
        "empty": b"",
        "garbage": b"\x00\xff\xfe garbage without headers or body \x80",
        "headers-only": b"Subject: x\r\n",
    }


def _from_bounces_and_budget() -> dict[str, bytes]:
    import test_bounces as b
    import test_parse_budget as p

    daemon = EmailMessage()
    daemon["From"] = "MAILER-DAEMON@amazon.de"
    daemon["To"] = "amazon.t1.de.abc@inbound.keybuzz.test"
    daemon["Subject"] = "Undeliverable"
    daemon["Auto-Submitted"] = "auto-replied"
    daemon["In-Reply-To"] = b.REFUSED_ID
    daemon["References"] = "<older@x> " + b.REFUSED_ID
    daemon.set_content("Your message was not delivered.")
    return {
        "bounce-amazon-dsn": b.amazon_bounce("amazon.t1.fr.abc@inbound.keybuzz.test"),
        "bounce-mailer-daemon": daemon.as_bytes(),
        "budget-ten-parts": p.hostile_mail("a@b.example", parts=10),
        "budget-nested-five": p.nested_mail(5),
    }


def _from_mailkit_bench_and_sandbox() -> dict[str, bytes]:
    import mailkit

    from bench import bench_poller, bench_push_latency

    auto = mailkit.relay_mail(INBOUND)
    auto["Auto-Submitted"] = "auto-replied"
    mails = {
        "mailkit": MX_STAMPS + mailkit.relay_mail(INBOUND).as_bytes(),
        "mailkit-auto-replied": auto.as_bytes(),
        "bench-poller": bench_poller._mail(INBOUND, 7),
        "bench-push-latency": MX_STAMPS + bench_push_latency._mail(INBOUND, 7),
    }
    mails.update(_from_sandbox())
    return mails


def _from_sandbox() -> dict[str, bytes]:
    return asyncio.run(_relayed_by_the_sandbox())


async def _relayed_by_the_sandbox() -> dict[str, bytes]:
    """One relay mail of each seeded seller, as the sandbox's admin endpoint sends it to an
    SMTP server of this script's."""
    import httpx
    from aiosmtpd.controller import Controller
    from keybuzz_devstack import infra
    from keybuzz_sandbox.config import SandboxConfig
    from keybuzz_sandbox.doubles import doubles
    from keybuzz_sandbox.testing import running_sandbox

    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            received.append(envelope.original_content)
            return "250 OK"

    mx = Controller(Keep(), hostname="127.0.0.1", port=infra.free_port())
    mx.start()
    try:
        with tempfile.TemporaryDirectory() as state:
            amazon = doubles()["amazon"].settings(bench_orders=100, reply_smtp_port=0)
            config = SandboxConfig(state_dir=state, doubles=(amazon,))
            async with (
                running_sandbox(config) as url,
                httpx.AsyncClient(base_url=url) as http,
            ):
                mails: dict[str, bytes] = {}
                for seller in (await http.get("/_sandbox/sellers")).json():
                    seller_id = seller["sellingPartnerId"]
                    relay = {"sellingPartnerId": seller_id, "to": INBOUND}
                    relay |= {"smtpHost": mx.hostname, "smtpPort": mx.port}
                    (await http.post("/_sandbox/messages", json=relay)).raise_for_status()
                    mails[f"sandbox-{seller_id}"] = MX_STAMPS + received.pop()
                return mails
    finally:
        mx.stop()


BUILDERS: list[Callable[[], dict[str, bytes]]] = [
    _from_test_relay_mail,
    _from_test_relay_mail_bodies,
    _handwritten,
    _from_bounces_and_budget,
    _from_mailkit_bench_and_sandbox,
]


def main() -> None:
    out = HERE / "relay"
    out.mkdir(exist_ok=True)
    for build in BUILDERS:
        for name, raw in build().items():
            path = out / f"{name}.eml"
            if not path.exists():
                path.write_bytes(raw)
                print("wrote", path.name)


if __name__ == "__main__":
    main()
