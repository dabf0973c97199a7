"""The PDF cache stays within its limit, keeps what was served last, and never hands out half a file."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from certification.pdf_cache import PdfCache

pytestmark = pytest.mark.unit
KIB = 1024


def _stored(folder) -> set[str]:
    return {path.stem for path in folder.glob("*.pdf")}


def test_a_stored_pdf_is_served_as_it_was_stored(tmp_path):
    cache = PdfCache(tmp_path / "pdf", max_bytes=100 * KIB)
    assert cache.get("c-1") is None
    cache.put("c-1", b"%PDF-1.4 one")
    assert cache.get("c-1") == b"%PDF-1.4 one"


def test_past_its_limit_the_cache_lets_go_of_the_least_recently_served(tmp_path):
    folder = tmp_path / "pdf"
    cache = PdfCache(folder, max_bytes=10 * KIB)
    for n in range(8):
        cache.put(f"c-{n}", bytes(KIB))
        os.utime(folder / f"c-{n}.pdf", (time.time() - 100 + n,) * 2)  # stored one second apart
    assert cache.get("c-0") is not None  # served again just now: the most recent of all

    cache.put("c-8", bytes(4 * KIB))  # 12 KiB stored: eviction down to 8 KiB

    assert _stored(folder) == {"c-0", "c-5", "c-6", "c-7", "c-8"}
    assert sum(path.stat().st_size for path in folder.glob("*.pdf")) <= 8 * KIB


def test_the_limit_counts_what_an_earlier_process_left_and_clears_its_abandoned_part_files(tmp_path):
    folder = tmp_path / "pdf"
    folder.mkdir()
    for n in range(6):
        (folder / f"old-{n}.pdf").write_bytes(bytes(KIB))
        os.utime(folder / f"old-{n}.pdf", (time.time() - 100 + n,) * 2)
    abandoned, in_flight = folder / "tmpdead.part", folder / "tmplive.part"
    abandoned.write_bytes(b"half")
    os.utime(abandoned, (time.time() - 2 * 3600,) * 2)
    in_flight.write_bytes(b"being written")

    PdfCache(folder, max_bytes=6 * KIB).put("new", bytes(KIB))

    assert _stored(folder) == {"old-3", "old-4", "old-5", "new"}  # 7 KiB stored: down to 4.8 KiB
    assert not abandoned.exists() and in_flight.exists()


def test_requests_rendering_one_certificate_at_once_each_store_a_whole_file(tmp_path):
    cache = PdfCache(tmp_path / "pdf", max_bytes=100 * 1024 * KIB)
    content = os.urandom(512 * KIB)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: cache.put("same", content), range(16)))
        served = list(pool.map(lambda _: cache.get("same"), range(16)))
    assert served == [content] * 16
    assert not list((tmp_path / "pdf").glob("*.part"))
