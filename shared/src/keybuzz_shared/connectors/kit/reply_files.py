"""A reply's files checked against the connector's ``Limits`` at the session, as its
marketplace would check them (the poller checks them before queueing too: a reply queued
before a limit changed meets it here): how many, each one's size, their total, their
formats. The first rule a reply breaks is its FAILED outcome's words."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keybuzz_shared.connectors.seam import Limits, ReplyFile


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


def refused_files(
    limits: Limits,
    files: Sequence[ReplyFile],
    marketplace: str,
    *,
    accepted: Callable[[ReplyFile], bool] | None = None,
    formats: str = "",
) -> str | None:
    """Why ``marketplace`` would refuse these files, if it would. A file's format is taken
    when ``accepted`` says so (default: its media type among ``limits.attachment_formats``,
    any when they name none); ``formats``: the formats a refusal names (default: those)."""
    if len(files) > limits.max_attachments:
        return f"{marketplace} takes at most {limits.max_attachments} files a reply"
    each = limits.max_file_bytes
    for file in files:
        if each is not None and len(file.data) > each:
            return f"{file.name}: {marketplace} takes files of at most {_mb(each)} ({len(file.data)} bytes)"
    total = sum(len(f.data) for f in files)
    if total > limits.max_attachment_bytes:
        return (
            f"{marketplace} takes at most {_mb(limits.max_attachment_bytes)} of files "
            f"a reply ({total} bytes given)"
        )
    known = limits.attachment_formats
    takes = accepted or (lambda f: not known or f.content_type.strip().lower() in known)
    for file in files:
        if not takes(file):
            return f"{file.name}: {marketplace} takes only {formats or ', '.join(known)} files"
    return None
