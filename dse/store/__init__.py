"""Results stores: Zarr v3 written by xarray, as specified in docs/results-spec.md.

A sweep writes a *template* first (metadata, coordinates, empty chunked
variables, a completion record), then every block writes its region and
marks itself complete. ``--resume`` skips completed blocks; a store whose
spec hash differs is refused. One scenario lives at the root group; several
scenarios live in one group each.

One module per job; this package re-exports every name ``dse.store`` had as a
single module:

=============  ==============================================================
``format``     the format version, the codecs of every array, Zarr store objects
``target``     :func:`check_target`: what may happen to the output path; swapping a template in
``template``   :func:`create_store`: the template of every scenario and the provenance
``reading``    :func:`read_root_attrs`, :func:`open_results`: opening through the checked store
``blocks``     :func:`write_block`, the completion record, :func:`completeness`
``derived``    derived variables (``pareto_front``): written, recognised, removed
=============  ==============================================================

The rest of the store layer lives here too and is imported by its full name
(it is not loaded with ``dse.store``):

=============  ==============================================================
``integrity``  chunk checksums, :class:`~dse.store.integrity.CheckedStore`, full scans
``locks``      :class:`~dse.store.locks.StoreLock`: one writer per store
``validate``   ``dse validate``: a store against the results spec
``table``      flat tables of designs from a store, and designs back from rows
=============  ==============================================================

>>> Completeness(done=40, total=40, scenarios={"li": (40, 40)}).complete
True
"""

from __future__ import annotations

from dse.store.blocks import (
    Completeness,
    completed_blocks,
    completeness,
    finalize_store,
    require_complete,
    set_status,
    write_block,
)

# every name of the former module is re-exported, the private ones imported as themselves
# (benchmarks/sweep_throughput.py imports _compressors); git_commit is looked up in
# dse.store.template when a template is written (the tests patch it there)
from dse.store.blocks import _array as _array
from dse.store.derived import (
    DERIVED_RESULTS,
    STATE_ATTR,
    derived_variables,
    remove_derived,
    store_state,
    write_variable,
)
from dse.store.format import (
    COMPLETED,
    COMPRESSOR,
    FORMAT,
    READABLE_FORMATS,
    WRITE_CONFIG,
    is_remote,
    zarr_store,
)
from dse.store.format import _compressors as _compressors
from dse.store.format import _consolidate as _consolidate
from dse.store.reading import checked_store, decode_codes, open_results, read_root_attrs, store_size
from dse.store.target import _discard as _discard
from dse.store.target import _swap_in as _swap_in
from dse.store.target import check_target
from dse.store.template import _input_attrs as _input_attrs
from dse.store.template import _output_attrs as _output_attrs
from dse.store.template import _write_template as _write_template
from dse.store.template import create_store, git_commit, scenario_groups, template_dataset

__all__ = [
    "FORMAT",
    "create_store",
    "open_results",
    "write_block",
    "completed_blocks",
    "check_target",
    "store_size",
    "finalize_store",
    "read_root_attrs",
    "scenario_groups",
    "is_remote",
    "Completeness",
    "completeness",
    "require_complete",
    "store_state",
    "derived_variables",
    "remove_derived",
    "STATE_ATTR",
    # public names that were not listed before the split
    "READABLE_FORMATS",
    "COMPLETED",
    "COMPRESSOR",
    "WRITE_CONFIG",
    "DERIVED_RESULTS",
    "zarr_store",
    "git_commit",
    "template_dataset",
    "checked_store",
    "decode_codes",
    "write_variable",
    "set_status",
]
