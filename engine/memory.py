"""How kade's process allocates memory: four settings of the allocators under numpy,
pyarrow and Python, made when ``engine`` is imported (``configure``). Two keep the memory
a million-row run frees for the next block of rows to reuse, where by default it went
back to the system and came again as fresh pages, a fault at a time; two stop numpy and
pyarrow asking for transparent huge pages, which stalled where the kernel made them.
Measured on the 1,048,575-row client sheet in docs/performance.md; described for users
in docs/evaluate.md ("Memory"). A setting the user made (its environment variable) is
left as it is; numpy and pyarrow read theirs when they load, so a program that
imports them before ``engine`` keeps their defaults."""

from __future__ import annotations

import os

# glibc's malloc (numpy's arrays, Python's large objects, python-calamine's cells): blocks
# up to this size come from the heap, and up to the trim size of free heap is kept
MALLOC_MMAP_THRESHOLD = 64 << 20
MALLOC_TRIM_THRESHOLD = 512 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_GLIBC_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def configure() -> None:
    """Make the settings (``engine/__init__.py`` calls this before anything loads numpy)."""
    # pyarrow's allocator (mimalloc) hands the memory it frees back to the system: the
    # .xlsx writers make each block of rows' text in memory the block before freed
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
    # and mimalloc asks for transparent huge pages; where making one stalls (about 10 ms on
    # the machine measured), the first write of a 100k-row sheet paid 1.3 s for 144 of them
    os.environ.setdefault("MIMALLOC_ALLOW_THP", "0")
    # numpy asks for huge pages for arrays of 4 MB and more; where making them stalls,
    # every new million-row array of numbers did (evaluating 1M rows: 3.6 s, 1.7 s without)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    _keep_freed_heap()


def _keep_freed_heap() -> None:
    """By default glibc maps a block above its threshold (128 KB, rising with use to
    32 MB at most) on its own and unmaps it when freed, and hands free heap above twice
    that back: a million-row sheet's arrays (8-64 MB) then come as fresh pages each
    time. Not on other C libraries, nor when the user set glibc's malloc up through its
    environment variables."""
    if any(name in os.environ for name in _GLIBC_SETTINGS):
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
    except (ValueError, OSError, AttributeError):  # not glibc, or no confstr (Windows)
        return
    import ctypes

    libc = ctypes.CDLL(None)
    libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD)
