"""Rendered certificates kept on local disk within a size limit; the least recently served go first.

A PDF is rendered on its first download. After that the employee, the training officer and anyone the
link is shared with get the stored file. It is kept under a `name` of the certificate and of every text
it prints, so a change to one of them (the state's signatory, its issuer's address) is rendered afresh,
and the PDF of before is evicted in its turn. The folder belongs to the pod (an `emptyDir` in Kubernetes), so
the limit must stay below the volume's. Otherwise Kubernetes would evict the pod once the cache filled
it. The methods do file I/O: call them from a worker thread.
"""

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

# Eviction goes down to this share of the limit, so it runs once per many new files, not on each one.
_AFTER_EVICTION = 0.8
# A part file this old was left by a process that died while writing it.
_ABANDONED_SECONDS = 3600


def name(certificate_id: str, texts: dict[str, object]) -> str:
    """What the PDF of `certificate_id` printing `texts` is kept as."""
    printed = json.dumps(texts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return f"{certificate_id}-{hashlib.sha256(printed).hexdigest()[:16]}"


class PdfCache:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self._folder = folder
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None  # bytes of PDFs in the folder, counted on the first store

    def get(self, name: str) -> bytes | None:
        """The PDF stored as `name`, now marked as the most recently served; None when it is not stored."""
        path = self._path(name)
        try:
            content = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:  # never stored, or evicted meanwhile
            return None
        return content

    def put(self, name: str, content: bytes) -> None:
        """Store a PDF as `name`. A reader never sees half a file, and two requests that render the same
        certificate at once each replace it with a whole one."""
        self._folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self._folder, suffix=".part", delete=False) as part:
            part.write(content)
        os.replace(part.name, self._path(name))
        with self._lock:  # a PDF stored again is counted twice until an eviction counts the folder afresh
            self._size = (self._count() if self._size is None else self._size) + len(content)
            if self._size > self._max_bytes:
                self._size = self._evict(int(self._max_bytes * _AFTER_EVICTION))

    def _path(self, name: str) -> Path:
        return self._folder / f"{name}.pdf"

    def _count(self) -> int:
        """The bytes of the stored PDFs, after removing the part files of writers that died."""
        for part in self._folder.glob("*.part"):
            if _age(part) > _ABANDONED_SECONDS:
                part.unlink(missing_ok=True)
        return sum(_size(path) for path in self._folder.glob("*.pdf"))

    def _evict(self, target: int) -> int:
        """Remove the least recently served PDFs until at most `target` bytes remain; returns what remains."""
        stored = []
        for path in self._folder.glob("*.pdf"):
            try:
                status = path.stat()
            except FileNotFoundError:
                continue
            stored.append((status.st_mtime, status.st_size, path))
        remaining = sum(size for _, size, _ in stored)
        for _, size, path in sorted(stored):
            if remaining <= target:
                break
            path.unlink(missing_ok=True)
            remaining -= size
        return remaining


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
