"""One writer per results store: a lock file beside the store, with stale-lock detection.

A sweep takes the lock ``OUT.zarr.lock`` before it writes anything and
removes it when it ends, however it ends short of being killed. The file
holds who took it (host, pid, the process's start time, when, the command),
so a second sweep on the same store is refused with a message that names the
holder. A lock left by a process that no longer runs on this host is stale:
the next sweep takes it over with a warning (``--resume`` then finishes the
store). A lock held from another host cannot be checked from here, and is
refused unless ``--break-lock`` is given.

The lock lives *beside* the store, not inside it, because writing a store
template (``--overwrite``, a new store) replaces the store directory.

Local paths: the lock file is created with ``link(2)``, which is atomic (also
on NFS), and stale-lock takeover is serialized by ``flock(2)`` on the parent
directory. Object stores (``s3://``): the lock object is written with a
conditional put (``If-None-Match: *``) where the server supports it; where it
does not, the check-then-write is best effort (docs/security.md).

>>> import tempfile, os
>>> store = os.path.join(tempfile.mkdtemp(), "out.zarr")
>>> with StoreLock(store) as lock:
...     os.path.exists(store + ".lock")
True
>>> os.path.exists(store + ".lock")
False
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from dse.errors import LockError, StoreError

__all__ = ["StoreLock", "LockInfo", "lock_path", "read_lock", "process_alive"]

SUFFIX = ".lock"


@dataclass(frozen=True)
class LockInfo:
    """Who holds a store's lock.

    Attributes
    ----------
    host : str
        ``socket.gethostname()`` of the holder.
    pid : int
        Its process id.
    process_start : float
        Start time of that process (seconds since the epoch), which tells a
        live holder from a later process that reused its pid.
    created : str
        When the lock was taken (ISO 8601, UTC).
    command : str
        The holder's program and subcommand only (options may carry secrets).
    token : str
        Random id of this lock; only the holder of the token releases it.
    """

    host: str
    pid: int
    process_start: float
    created: str
    command: str
    token: str

    @classmethod
    def mine(cls) -> LockInfo:
        """The lock record of this process: host, pid and start time, the time now, the command."""
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            process_start=_process_start(os.getpid()) or 0.0,
            created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]),
            token=uuid.uuid4().hex,
        )

    def describe(self) -> str:
        """Who holds the lock, in words: pid, host and since when."""
        return f"pid {self.pid} on {self.host} since {self.created}"


def _process_start(pid: int) -> float | None:
    """Start time of a process, or None when it does not exist (or is not visible)."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def process_alive(pid: int, process_start: float = 0.0) -> bool:
    """True when ``pid`` runs on this host and (if known) started at ``process_start``.

    >>> process_alive(os.getpid())
    True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    if process_start:
        started = _process_start(pid)
        if started is not None and abs(started - process_start) > 2.0:
            return False  # the pid was reused by a later process
    return True


def lock_path(store: str) -> str:
    """The lock file of a store: ``OUT.zarr.lock`` beside it (local paths resolved).

    >>> lock_path("s3://bucket/run/out.zarr/")
    's3://bucket/run/out.zarr.lock'
    """
    if "://" in str(store):
        return str(store).rstrip("/") + SUFFIX
    return str(Path(store).resolve()) + SUFFIX


def _parse(data: bytes) -> LockInfo | None:
    try:
        raw = json.loads(data.decode())
        return LockInfo(
            host=str(raw["host"]),
            pid=int(raw["pid"]),
            process_start=float(raw["process_start"]),
            created=str(raw["created"]),
            command=str(raw.get("command", "")),
            token=str(raw["token"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        return None


def read_lock(store: str, storage_options: Mapping | None = None) -> LockInfo | None:
    """The holder of a store's lock, or None when the store is not locked.

    An unreadable lock file (another program's, or truncated) is reported as
    a holder on host ``"?"``, so that it is never silently taken over.
    """
    path = lock_path(store)
    try:
        if "://" in path:
            fs, key = _fs(path, storage_options)
            data = fs.cat_file(key)
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the lock file {path} ({exc.strerror or exc})", where=store) from None
    return _parse(data) or LockInfo(host="?", pid=0, process_start=0.0, created="?", command="", token="?")


def _fs(url: str, storage_options: Mapping | None):
    import fsspec

    return fsspec.core.url_to_fs(url, **dict(storage_options or {}))


def _warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _directory_guard(directory: Path) -> Iterator[None]:
    """Exclusive flock on a directory while a stale lock is checked and replaced (best effort)."""
    try:
        import fcntl

        fd = os.open(directory, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # e.g. a file system without flock: link() alone still excludes
            pass
        yield
    finally:
        os.close(fd)


class StoreLock:
    """Exclusive writer lock of one results store (a context manager).

    Parameters
    ----------
    store : str
        Store path or URL.
    storage_options : mapping, optional
        fsspec options for object stores.
    break_lock : bool, default False
        Take the lock even from a holder that may be alive or runs on another
        host (the operator vouches that it does not write any more).
    warn : callable, optional
        Receives one-line warnings (stale lock taken over, lock broken);
        default: printed on stderr.

    Raises
    ------
    LockError
        On :meth:`acquire`, when another writer holds the lock; the message
        names it and how to proceed.
    """

    def __init__(
        self,
        store: str,
        storage_options: Mapping | None = None,
        break_lock: bool = False,
        warn: Callable[[str], None] | None = None,
    ):
        self.store = str(store)
        self.path = lock_path(self.store)
        self.storage_options = dict(storage_options) if storage_options else None
        self.break_lock = break_lock
        self.warn = warn or _warn
        self.info: LockInfo | None = None

    # -- decisions ---------------------------------------------------------------
    def _may_take(self, holder: LockInfo) -> bool:
        """True when ``holder``'s lock may be replaced (stale, or --break-lock); else raise."""
        here = socket.gethostname()
        if holder.host == here and not process_alive(holder.pid, holder.process_start):
            self.warn(
                f"{self.store}: taking over a stale lock of {holder.describe()} (that process no longer "
                "runs; the blocks it finished are kept)"
            )
            return True
        if self.break_lock:
            self.warn(f"{self.store}: breaking the lock of {holder.describe()} (--break-lock)")
            return True
        if holder.host == "?":
            raise LockError(
                f"is locked by an unreadable lock file {self.path}; if no sweep writes this store, "
                "remove it or rerun with --break-lock",
                where=self.store,
            )
        if holder.host == here:
            raise LockError(
                f"is being written by another sweep ({holder.describe()}); wait for it to finish, or stop it first",
                where=self.store,
            )
        raise LockError(
            f"is locked by a sweep on another host ({holder.describe()}); dse cannot check whether it "
            "still runs: if it does not, rerun with --break-lock",
            where=self.store,
        )

    # -- local files ---------------------------------------------------------------
    def _acquire_local(self, data: bytes) -> None:
        lock = Path(self.path)
        parent = lock.parent
        if not parent.is_dir():
            raise StoreError(f"parent directory {parent} does not exist", where=self.store)
        tmp = parent / f".{lock.name}.{self.info.token}.tmp"
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise StoreError(f"cannot write the lock file {lock} ({exc.strerror or exc})", where=self.store) from None
        try:
            for _ in range(5):
                try:
                    os.link(tmp, lock)
                    return
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise StoreError(
                        f"cannot write the lock file {lock} ({exc.strerror or exc})", where=self.store
                    ) from None
                with _directory_guard(parent):
                    holder = read_lock(self.store)
                    if holder is None:
                        continue  # released meanwhile: try again
                    if self._may_take(holder):
                        # replace only the file just judged (another taker may have been quicker)
                        current = read_lock(self.store)
                        if current == holder:
                            with contextlib.suppress(FileNotFoundError):
                                lock.unlink()
            raise LockError("could not take the lock (contended); try again", where=self.store)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    # -- object stores ---------------------------------------------------------------
    def _acquire_remote(self, data: bytes) -> None:
        fs, key = _fs(self.path, self.storage_options)
        for _ in range(5):
            try:
                try:
                    fs.pipe_file(key, data, mode="create")
                except (TypeError, NotImplementedError, ValueError):  # no conditional writes: best effort
                    if fs.exists(key):
                        raise FileExistsError(key) from None
                    fs.pipe_file(key, data)
                return
            except FileExistsError:
                pass
            except OSError as exc:
                if "precondition" not in str(exc).lower():
                    raise StoreError(f"cannot write the lock object {self.path} ({exc})", where=self.store) from None
            holder = read_lock(self.store, self.storage_options)
            if holder is not None and self._may_take(holder):
                fs.rm_file(key)
        raise LockError("could not take the lock (contended); try again", where=self.store)

    # -- public ---------------------------------------------------------------------
    def acquire(self) -> StoreLock:
        """Take the lock (raises :class:`~dse.errors.LockError` when another writer holds it)."""
        self.info = LockInfo.mine()
        data = json.dumps(asdict(self.info), indent=1).encode()
        if "://" in self.path:
            self._acquire_remote(data)
        else:
            self._acquire_local(data)
        return self

    def release(self) -> None:
        """Remove the lock if it is still ours (warn when someone broke it)."""
        if self.info is None:
            return
        try:
            holder = read_lock(self.store, self.storage_options)
        except StoreError:
            holder = None
        if holder is not None and holder.token == self.info.token:
            try:
                if "://" in self.path:
                    fs, key = _fs(self.path, self.storage_options)
                    fs.rm_file(key)
                else:
                    Path(self.path).unlink()
            except OSError as exc:
                self.warn(f"{self.store}: could not remove the lock file {self.path} ({exc})")
        elif holder is not None:
            self.warn(f"{self.store}: the lock was taken over by {holder.describe()} while this sweep ran")
        self.info = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
