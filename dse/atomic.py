r"""Write a file so that readers see the old content or the new, never a part.

>>> import os, pathlib, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "coefficients.yaml")
>>> write_atomic(path, "a: 1\n")
>>> pathlib.Path(path).read_text()
'a: 1\n'
>>> sorted(os.listdir(os.path.dirname(path)))
['coefficients.yaml']
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    ``os.replace`` is atomic on POSIX and Windows within one file system, so
    an interrupted write (a full disk, a crash, Ctrl-C) leaves ``path`` as it
    was and no partial file behind.

    Raises
    ------
    OSError
        When the folder is not writable or the disk is full (the temporary
        file is removed).
    """
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
