"""Content-addressed artifact storage: ``<home>/artifacts/sha256/ab/abcdef...``.

Uploads are hashed while they stream to a temporary file in the same directory tree and then
renamed into place, so a half-received upload never appears under its hash. Files that are
pickles (or joblib dumps, which are pickles) are refused: loading one runs arbitrary code.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from modelyard.kit.errors import BadRequest, NotFound, PayloadTooLarge

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".pck", ".dill")
PICKLE_REFUSAL = (
    "Pickle and joblib files are refused: loading one runs arbitrary code. Upload a "
    "scikit-learn model saved with skops (`skops.io.dump(model, 'model.skops')`, flavor "
    "'sklearn'), an ONNX file (flavor 'onnx'), or a formula model with JSON parameters."
)


def looks_like_pickle(head: bytes, filename: str | None) -> bool:
    if filename and filename.lower().endswith(PICKLE_SUFFIXES):
        return True
    # Pickle protocols 2-5 start with PROTO (0x80) and the protocol number; joblib's
    # compressed dumps start with a zlib header around a pickle.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return (
        head[:2] in (b"x\x9c", b"x\xda", b"x\x01") and filename is not None and "joblib" in filename
    )


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound("No such artifact.")
        return self.root / "sha256" / sha256[:2] / sha256

    def open(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"The artifact {sha256[:12]}... is missing from the store.")
        return path

    def put_stream(
        self, source: BinaryIO | Iterable[bytes], *, max_bytes: int, filename: str | None
    ) -> tuple[str, int]:
        """Store a stream; returns (sha256, size). Raises 413 past ``max_bytes``."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                chunks = (
                    iter(lambda: source.read(CHUNK), b"")
                    if hasattr(source, "read")
                    else iter(source)
                )
                first = True
                for chunk in chunks:
                    if first:
                        if looks_like_pickle(chunk[:16], filename):
                            raise BadRequest(PICKLE_REFUSAL)
                        first = False
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"The artifact is larger than the configured limit of {max_bytes} bytes "
                            "(MODELYARD_STORAGE__MAX_ARTIFACT_BYTES)."
                        )
                    digest.update(chunk)
                    out.write(chunk)
                if first and filename is not None and looks_like_pickle(b"", filename):
                    raise BadRequest(PICKLE_REFUSAL)
            sha256 = digest.hexdigest()
            final = self.path_for(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            return sha256, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
