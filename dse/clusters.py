"""Dask clusters by name, and connections that fail fast.

Deployment is configuration (the dask-jobqueue convention): named cluster
definitions live in Dask's config under ``dse.clusters``, with defaults
shipped in ``dse/data/dse.yaml`` and merged into :mod:`dask.config` when this
module is imported. ``dse sweep --cluster slurm`` starts the ``slurm`` entry;
a user changes it in ``~/.config/dask/dse.yaml`` (or ``DASK_DSE__...``
environment variables), never in code. Optional backends (dask-jobqueue,
dask-kubernetes, dask-gateway) are imported only when their entry is used.

:func:`connect` opens a :class:`distributed.Client` on an address or a
running cluster. A wrong address, a scheduler that does not answer or TLS
settings that do not match the scheduler's become one-line
:class:`~dse.errors.DseError` messages within the configured timeout
(``dse.scheduler-timeout``), instead of a hang or a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import shutil
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dask.config
import yaml

from dse.errors import DseError

__all__ = [
    "CONFIG_FILE",
    "ClusterEntry",
    "cluster_names",
    "cluster_entry",
    "check_cluster",
    "open_cluster",
    "check_scheduler",
    "connect",
    "tls_security",
    "scheduler_lost",
]

CONFIG_FILE = Path(__file__).parent / "data" / "dse.yaml"


def _load_defaults() -> None:
    """Merge the shipped defaults into dask.config.

    A commented copy is left in the user's Dask config directory to edit (as
    dask-jobqueue does).
    """
    dask.config.ensure_file(source=str(CONFIG_FILE))
    dask.config.update_defaults(yaml.safe_load(CONFIG_FILE.read_text()))


_load_defaults()


@dataclass(frozen=True)
class ClusterEntry:
    """One named cluster of ``dse.clusters``.

    Parameters
    ----------
    name : str
        The name given to ``--cluster``.
    cls : str
        Dotted path of the class that starts the cluster.
    package : str
        What to ``pip install`` when the class cannot be imported.
    workers : int, optional
        Worker processes to ask for; None leaves it to the class.
    kwargs : dict
        Keyword arguments of the class (None values dropped).

    Examples
    --------
    >>> entry = cluster_entry("slurm")
    >>> entry.cls, entry.kwargs["cores"], entry.workers
    ('dask_jobqueue.SLURMCluster', 8, 16)
    """

    name: str
    cls: str
    package: str
    workers: int | None = None
    kwargs: dict = field(default_factory=dict)

    def load(self) -> type:
        """Import the cluster class; a one-line error names the missing package."""
        module, _, attr = self.cls.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError:
            raise DseError(
                f"needs the {self.package} package: pip install {self.package}", where=f"--cluster {self.name}"
            ) from None
        except AttributeError:
            raise DseError(
                f"{module} has no {attr!r} (dse.clusters.{self.name}.class)", where=f"--cluster {self.name}"
            ) from None

    def arguments(self, workers: int | None = None) -> tuple[dict, int | None]:
        """Keyword arguments for the class and the workers left to ``scale``.

        Workers go into the class's ``n_workers`` argument when it has one
        (LocalCluster, dask-jobqueue, KubeCluster), else to ``cluster.scale``.
        """
        kwargs = dict(self.kwargs)
        n = self.workers if workers is None else workers
        if n is not None and "n_workers" in inspect.signature(self.load()).parameters:
            kwargs["n_workers"] = n
            n = None
        return kwargs, n


def cluster_names() -> list[str]:
    """Names of the configured clusters.

    >>> {"local", "slurm", "pbs", "kubernetes", "gateway"} <= set(cluster_names())
    True
    """
    return sorted(dask.config.get("dse.clusters", {}) or {})


def cluster_entry(name: str) -> ClusterEntry:
    """The configuration of one named cluster.

    Raises
    ------
    DseError
        For a name that is not configured (with the closest name) or an entry
        without a ``class``.
    """
    from dse.errors import suggest

    entries = dask.config.get("dse.clusters", {}) or {}
    if name not in entries:
        raise DseError(
            f"unknown cluster {name!r}{suggest(name, entries)} (configured: "
            f"{', '.join(sorted(entries))}; add others under dse.clusters in the Dask config)",
            where="--cluster",
        )
    raw = {k.replace("-", "_"): v for k, v in (entries[name] or {}).items()}
    if not raw.get("class"):
        raise DseError("has no 'class' (the dotted path of a Dask cluster class)", where=f"dse.clusters.{name}")
    kwargs = {k.replace("-", "_"): v for k, v in (raw.get("kwargs") or {}).items() if v is not None}
    workers = raw.get("workers")
    return ClusterEntry(
        name,
        raw["class"],
        raw.get("package") or raw["class"].split(".")[0],
        None if workers is None else int(workers),
        kwargs,
    )


def _check_submit_command(cls: type, name: str) -> None:
    """Batch-system clusters need their submit command (``sbatch``, ``qsub``) here.

    Without it dask-jobqueue would log the failed submission and the sweep
    would wait for workers that never come.
    """
    job = getattr(cls, "job_cls", None)
    command = getattr(job, "submit_command", None)
    if command and shutil.which(command.split()[0]) is None:
        raise DseError(
            f"{command.split()[0]!r} is not on this machine's PATH: run the sweep on a login node of the batch system",
            where=f"--cluster {name}",
        )


def check_cluster(name: str) -> type:
    """The class of a named cluster, checked without starting anything.

    Raises
    ------
    DseError
        Unknown name, missing optional package, or a batch system whose
        submit command is not on this machine.
    """
    cls = cluster_entry(name).load()
    _check_submit_command(cls, name)
    return cls


@contextlib.contextmanager
def open_cluster(name: str, workers: int | None = None, **kwargs) -> Iterator:
    """Start the cluster configured as ``dse.clusters.<name>``, close it on exit.

    Parameters
    ----------
    name : str
        A configured name (:func:`cluster_names`).
    workers : int, optional
        Worker processes to ask for, instead of the entry's ``workers``.
    **kwargs
        Extra keyword arguments of the cluster class (override the config).

    Yields
    ------
    distributed.deploy.Cluster

    Raises
    ------
    DseError
        Unknown name, missing optional package, missing batch submit command,
        or a cluster class that fails to start.
    """
    cls = check_cluster(name)
    arguments, scale = cluster_entry(name).arguments(workers)
    arguments.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "port 8787 is in use": another port is chosen
        try:
            cluster = cls(**arguments)
        except Exception as exc:
            raise DseError(
                f"could not start the cluster: {type(exc).__name__}: {_first_line(exc)}", where=f"--cluster {name}"
            ) from None
    try:
        if scale is not None:
            cluster.scale(scale)
        yield cluster
    finally:
        cluster.close()


# --------------------------------------------------------------------------- connections
def tls_security(ca_file: str | Path | None = None, cert: str | Path | None = None, key: str | Path | None = None):
    """A :class:`distributed.security.Security` for a TLS client, or None.

    With no file given, None: the client then uses Dask's own TLS settings
    (``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert``
    and ``.key``), if any.

    Parameters
    ----------
    ca_file : path
        Certificate(s) of the authority that signed the scheduler's and
        workers' certificates (PEM).
    cert : path
        This client's certificate (PEM); may also hold the key.
    key : path, optional
        This client's private key (PEM), when not in ``cert``.

    Raises
    ------
    DseError
        A file is missing, or ``cert`` is given without ``ca_file`` or the reverse.
    """
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    for option, path in given.items():
        if path is not None and not Path(path).is_file():
            raise DseError("no such file", where=f"{option} {path}")
    if not (ca_file and cert):
        raise DseError(
            "a TLS client needs both --tls-ca-file and --tls-cert (and --tls-key unless the "
            "certificate file holds the key)"
        )
    from distributed.security import Security

    return Security(
        tls_ca_file=str(ca_file),
        tls_client_cert=str(cert),
        tls_client_key=str(key) if key else None,
        require_encryption=True,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _connection_error(exc: Exception, address: str, timeout: float) -> DseError:
    """Turn what distributed raises on connecting into one actionable line."""
    from distributed.comm.core import FatalCommClosedError

    text = str(exc)
    tls_address = address.startswith("tls://")
    if isinstance(exc, TypeError) and "ssl_context" in text:
        why = (
            "the address is tls:// but no TLS certificates were given: pass --tls-ca-file, --tls-cert and "
            "--tls-key, or set distributed.comm.tls in the Dask config"
        )
    elif isinstance(exc, RuntimeError) and "encryption required" in text:
        why = "TLS certificates were given but the address is not tls://: use tls://HOST:PORT"
    elif isinstance(exc, FatalCommClosedError) or isinstance(exc, ssl.SSLError) or "certificate" in text.lower():
        why = (
            "the TLS handshake failed: the scheduler's certificate and ours must be signed by the CA of "
            f"--tls-ca-file ({_first_line(exc)})"
        )
    elif isinstance(exc, ValueError):
        why = f"not a scheduler address ({_first_line(exc)}); expected tcp://HOST:PORT or tls://HOST:PORT"
    elif "Timed out" in text or isinstance(exc, TimeoutError):
        why = f"no Dask scheduler answered within {timeout:g} s: is it running, and is the address right?"
    elif not tls_address:
        why = (
            f"the scheduler closed the connection ({_first_line(exc)}); if it uses TLS, connect to "
            "tls://HOST:PORT with --tls-ca-file, --tls-cert and --tls-key"
        )
    else:
        why = _first_line(exc)
    return DseError(f"cannot connect to the Dask scheduler: {why}", where=address)


def _handshake(address: str, security, timeout: float) -> None:
    """Open and close one connection to ``address``: the checks a Client makes.

    Done before creating a Client, because a Client whose start failed
    lingers until interpreter exit and prints a traceback while closing.
    """
    import asyncio

    from distributed.comm import connect as comm_connect

    async def probe():
        comm = await comm_connect(address, timeout=timeout, **security.get_connection_args("client"))
        await comm.close()

    asyncio.run(probe())


def _timeout(timeout: str | float | None) -> float:
    from dask.utils import parse_timedelta

    return parse_timedelta(timeout or dask.config.get("dse.scheduler-timeout", "10s"), default="s")


def check_scheduler(address: str, security=None, timeout: str | float | None = None) -> None:
    """Fail fast if nothing answers at ``address`` with matching TLS settings.

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
    security : distributed.security.Security, optional
        Default: Dask's config (``distributed.comm.tls``).
    timeout : str or float, optional
        Default ``dse.scheduler-timeout``.

    Raises
    ------
    DseError
        One line saying what does not match, within about ``timeout``.
    """
    from distributed.security import Security

    seconds = _timeout(timeout)
    try:
        _handshake(address, security or Security(), seconds)
    except (OSError, TypeError, ValueError, RuntimeError) as exc:
        raise _connection_error(exc, address, seconds) from None


@contextlib.contextmanager
def connect(target, security=None, timeout: str | float | None = None) -> Iterator:
    """A :class:`distributed.Client` on a scheduler address or a running cluster.

    Parameters
    ----------
    target : str or distributed.deploy.Cluster
        ``tcp://HOST:PORT``, ``tls://HOST:PORT`` (or another Dask address), or
        a cluster object (which brings its own security).
    security : distributed.security.Security, optional
        TLS settings (:func:`tls_security`); default: Dask's config.
    timeout : str or float, optional
        Connect timeout; default ``dse.scheduler-timeout`` (10 s).

    Yields
    ------
    distributed.Client
        Closed on exit. Distributed's own log messages are silenced while it
        is open: what goes wrong is reported by the caller, in one line.

    Raises
    ------
    DseError
        Unreachable scheduler, malformed address, or TLS settings that do not
        match the scheduler's, within about ``timeout``.
    """
    from distributed import Client
    from distributed.security import Security
    from distributed.utils import silence_logging_cmgr

    seconds = _timeout(timeout)
    with silence_logging_cmgr(logging.CRITICAL):
        if isinstance(target, str):
            security = security or Security()
            check_scheduler(target, security, seconds)
            address, arguments = target, {"security": security}
        else:
            address, arguments = getattr(target, "scheduler_address", repr(target)), {}
        try:
            client = Client(target, timeout=seconds, **arguments)
        except (OSError, TypeError, ValueError, RuntimeError) as exc:
            raise _connection_error(exc, address, seconds) from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=seconds)


def scheduler_lost(exc: BaseException, client) -> bool:
    """Whether a failed future means the scheduler went away (not a failing block)."""
    from asyncio import CancelledError

    from distributed.comm.core import CommClosedError

    return isinstance(exc, CancelledError | CommClosedError) or getattr(client, "status", "running") != "running"
