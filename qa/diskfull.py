"""A build that runs out of disk: detect it, clean up the unfinished work, and say so in one line.

The previous index stays live (a generation is published only when complete); what is left to do is
remove `.work/` (its size named) so the disk is not kept full by the failed attempt.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from . import storage
from .errors import IndexError_, IndexLockedError


def is_disk_full(e: BaseException, folder: Path) -> bool:
    """Did this write fail for lack of space? numpy says only "155392 requested and 18400 written" and FAISS
    raises RuntimeError, so besides the errno the free space itself is asked (before cleaning up frees some)."""
    if not isinstance(e, (OSError, RuntimeError)):
        return False
    if getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or any(
            os.strerror(n) in str(e) for n in (errno.ENOSPC, errno.EDQUOT)):
        return True
    try:
        return shutil.disk_usage(folder).free < 2**20
    except OSError:
        return False


def disk_full_error(index: Path, e: BaseException) -> IndexError_:
    work = index / ".work"
    size = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) if work.is_dir() else 0
    freed = ""
    with contextlib.suppress(IndexLockedError, OSError), storage.build_lock(index):
        shutil.rmtree(work, ignore_errors=True)
        freed = f"; removed {size / 2**20:.1f} MB of unfinished work in {work}" if size else ""
    if work.is_dir():
        freed = f"; {work} holds {size / 2**20:.1f} MB of unfinished work (delete it to free the space)"
    where = getattr(e, "filename", None) or ("the vector index" if isinstance(e, RuntimeError) else None)
    return IndexError_(f"{index}: the disk is full (no space left while writing {where or 'the index'}); the "
                       f"previous index is untouched{freed}: free some space and run `qa build` again")
