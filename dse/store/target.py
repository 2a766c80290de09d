"""The output path of a sweep: what may happen to it, and moving a new template into place.

:func:`check_target` decides before anything is written; :func:`_swap_in`
puts a complete template at the path (replacing a deletable old store) and
:func:`_discard` removes a temporary one (docs/results-spec.md, "Replacing a
store"). :func:`dse.store.template.create_store` and ``dse refine`` use both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from dse.errors import StoreError
from dse.store.format import is_remote

__all__ = ["check_target"]


def check_target(path: str, resume: bool, overwrite: bool, storage_options: Mapping | None = None) -> bool:
    """Decide what to do with the output path before anything is written.

    Returns True when an existing store should be resumed.

    Raises
    ------
    StoreError
        The path is a file, exists without ``--resume``/``--overwrite``, is
        not a store that ``--overwrite`` may delete (:func:`dse.safety.check_deletable`),
        or its parent is not writable.
    """
    from dse.safety import check_deletable

    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        exists = fs.exists(root)
        if exists and not (resume or overwrite):
            raise StoreError("already exists; use --resume to finish it or --overwrite to replace it", where=path)
        if exists and overwrite:
            check_deletable(path, storage_options, "--overwrite")
        return exists and resume
    p = Path(path)
    if overwrite:
        check_deletable(path, None, "--overwrite")
    if p.exists() and not p.is_dir():
        raise StoreError("is a file, not a Zarr store directory", where=path)
    if p.exists():
        if resume:
            return True
        if overwrite:
            return False
        raise StoreError("already exists; use --resume to finish it or --overwrite to replace it", where=path)
    if resume:
        raise StoreError("nothing to resume: the store does not exist (run the sweep without --resume)", where=path)
    parent = p.resolve().parent
    if not parent.exists():
        raise StoreError(f"parent directory {parent} does not exist", where=path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write to {parent} (permission denied)", where=path)
    return False


def _discard(tmp: str, storage_options: Mapping | None) -> None:
    """Remove a temporary template this process created (best effort: never hides the original error)."""
    try:
        if is_remote(tmp):
            import fsspec

            fs, root = fsspec.core.url_to_fs(tmp, **(storage_options or {}))
            if fs.exists(root):
                fs.rm(root, recursive=True)
        elif Path(tmp).exists():
            shutil.rmtree(tmp)
    except Exception:
        pass


def _swap_in(tmp: str, path: str, overwrite: bool, storage_options: Mapping | None) -> None:
    """Put the complete template ``tmp`` at ``path``, replacing a deletable old store when ``overwrite``."""
    from dse.safety import check_deletable, sibling_path

    if overwrite:
        check_deletable(path, storage_options, "--overwrite")  # again: the target may have changed meanwhile
    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        _, tmp_root = fsspec.core.url_to_fs(tmp, **(storage_options or {}))
        root, tmp_root = root.rstrip("/"), tmp_root.rstrip("/")
        fs.invalidate_cache()  # listings cached before the template was written
        try:
            if fs.exists(root):
                if not overwrite:
                    raise StoreError(
                        "already exists; use --resume to finish it or --overwrite to replace it", where=path
                    )
                fs.rm(root, recursive=True)
            # the root metadata first: a copy cut short is still recognised as a dse store, which
            # --overwrite may replace
            keys = sorted(fs.find(tmp_root), key=lambda k: k != f"{tmp_root}/zarr.json")
            for key in keys:
                fs.copy(key, root + key[len(tmp_root) :])
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"cannot move the new template into place ({exc.__class__.__name__}: "
                f"{str(exc)[:120]}); rerun with --overwrite",
                where=path,
            ) from None
        return
    old = None
    try:
        if Path(path).exists():
            if not overwrite:
                raise StoreError("already exists; use --resume to finish it or --overwrite to replace it", where=path)
            old = sibling_path(path, "old")
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except OSError:
            if old is not None:
                os.rename(old, path)  # put the old store back
                old = None
            raise
    except OSError as exc:
        raise StoreError(f"cannot move the new template into place ({exc.strerror or exc})", where=path) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
