"""Writing output files whole or not at all.

An export or a report written in place and interrupted (a full disk, Ctrl-C,
``kill``) leaves a truncated file that looks like a result.  :func:`replacing`
hands out a temporary file next to the target and renames it over the target
only once everything was written and flushed to disk: readers see the old file
or the new one, never half of one, and a failure leaves the old file (or no
file) behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replacing"]


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write; renamed to ``path`` when the block succeeds.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
    >>> with replacing(out) as tmp:
    ...     _ = tmp.write_text("seed,val_acc")
    >>> out.read_text()
    'seed,val_acc'
    >>> sorted(p.name for p in out.parent.iterdir())   # no temporary file left
    ['runs.csv']
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename, or the rename may win
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
