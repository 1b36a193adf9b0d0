"""A reply's files where the marketplace names each one's format by an extension (a
``fileFormat`` beside the file's content): the file name's extension where the marketplace
names it, else the one of the media type the file is given with; a file of neither is
refused before any call, the refusal naming the extensions taken."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath

from keybuzz_shared.connectors.kit import DeclaredReplies
from keybuzz_shared.connectors.seam import Limits, ReplyFile


class FileFormats:
    """``extensions``: the extension the marketplace names each media type it takes by;
    ``also``: extensions it names beside those (``jpeg`` beside ``jpg``)."""

    def __init__(self, extensions: Mapping[str, str], *, also: Iterable[str] = ()) -> None:
        self.extensions = dict(extensions)
        self.named = frozenset({*self.extensions.values(), *also})

    @property
    def media_types(self) -> tuple[str, ...]:
        """The media types taken, as a connector's ``Limits.attachment_formats``."""
        return tuple(self.extensions)

    def of(self, file: ReplyFile) -> str | None:
        """The file's format: its name's extension where the marketplace names it, else
        its media type's; None where the marketplace takes neither."""
        suffix = PurePath(file.name).suffix.lower().lstrip(".")
        if suffix in self.named:
            return suffix
        return self.extensions.get(file.content_type.strip().lower())

    def refused(self, limits: Limits, files: Sequence[ReplyFile], marketplace: str) -> str | None:
        """Why ``marketplace`` would refuse these files (``limits``: how many, how large),
        if it would."""
        return DeclaredReplies.refused_files(
            limits,
            files,
            marketplace,
            accepted=lambda file: self.of(file) is not None,
            formats=", ".join(sorted(self.named)),
        )
