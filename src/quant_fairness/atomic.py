"""Atomic file writes: a reader never sees a half-written result.

Everything is written to a temporary file or folder beside the target and renamed into
place, so an interrupted run leaves either the old result or the new one, never a
fragment. A folder that already exists is swapped with the new one in one step (Linux's
renameat2 RENAME_EXCHANGE) before the old one is removed; where that call is missing, the
old folder is first renamed aside, so a crash leaves it there rather than deleted. A write
that fails (a full disk) is one line naming the target.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from quant_fairness.errors import QuantFairnessError

AT_FDCWD = -100
RENAME_EXCHANGE = 2
# Errors that say the write itself failed; any other error of the caller's block is its own.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _one_line_write_errors(target):
    """A full disk, a quota or a read-only file system as one line naming what was being written."""
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_ERRORS:
            raise
        raise QuantFairnessError(
            f"cannot write {str(target)!r}: {os.strerror(error.errno)}; it is left as it was"
        ) from None


@contextlib.contextmanager
def atomic_path(target, suffix=""):
    """Yield a temporary path beside `target`; rename it onto `target` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    try:
        with _one_line_write_errors(target):
            yield Path(tmp)
            # mkstemp creates 0600; results should be as readable as any file the user writes.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def exchange(first, second):
    """Swap two existing paths in one atomic step; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    return result == 0


def _replace_directory(tmp, target):
    """Put the folder `tmp` at `target`; the old `target` is never gone before the new one is there."""
    if not target.exists():
        os.replace(tmp, target)
        return
    if exchange(tmp, target):
        shutil.rmtree(tmp)  # now the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, old / target.name)
    os.replace(tmp, target)
    shutil.rmtree(old)


@contextlib.contextmanager
def atomic_directory(target):
    """Yield a temporary directory beside `target`; swap it into place if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with _one_line_write_errors(target):
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            _replace_directory(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(target, text):
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
