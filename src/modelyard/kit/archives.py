"""Limits on what an uploaded zip archive may unpack to, checked from its directory alone.

A zip's central directory declares each member's unpacked size, and Python's ``zipfile``
never yields more than that size for a member (it stops there, and a member that inflates
otherwise fails its CRC check). So reading the directory is enough to refuse an archive whose
members are too many, too large together, or whose metadata member (parsed whole into
memory by its loader, like a skops file's ``schema.json``) is too large: nothing is
decompressed before the refusal, a 413 problem naming the setting to raise.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from modelyard.kit.errors import PayloadTooLarge


class ArchiveOverLimit(PayloadTooLarge):
    title = "Archive over a limit"


@dataclass(frozen=True)
class ArchiveLimits:
    members: int
    unpacked_bytes: int
    metadata_bytes: int


def check_zip(path: Path, limits: ArchiveLimits, *, metadata: tuple[str, ...] = ()) -> None:
    """Refuse (413) a zip over ``limits``; a file that is not a zip is left to its loader."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return
    if len(members) > limits.members:
        raise ArchiveOverLimit(
            f"The archive holds {len(members):,} files; at most {limits.members:,} are "
            "accepted (MODELYARD_STORAGE__MAX_ARTIFACT_MEMBERS)."
        )
    total = sum(member.file_size for member in members)
    if total > limits.unpacked_bytes:
        raise ArchiveOverLimit(
            f"The archive unpacks to {total:,} bytes; at most {limits.unpacked_bytes:,} are "
            "accepted (MODELYARD_STORAGE__MAX_ARTIFACT_UNPACKED_BYTES)."
        )
    for member in members:
        if member.filename in metadata and member.file_size > limits.metadata_bytes:
            raise ArchiveOverLimit(
                f"The archive's {member.filename} unpacks to {member.file_size:,} bytes; at "
                f"most {limits.metadata_bytes:,} are read "
                "(MODELYARD_STORAGE__MAX_ARTIFACT_METADATA_BYTES)."
            )
