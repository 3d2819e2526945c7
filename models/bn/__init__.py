"""Bayesian networks for TargetKG (``targetkg.models.bn``).

Structure learning (BGe / BIC / BNRC spline scores, candidate screening, hill climbing,
bootstrap, structure MCMC, NNSR on local / Dask / Ray executors), knockdown simulation by graph
surgery, per-sample Edge Contribution values (ECv / Delta ECv) and subnetworks.

Entry points: :mod:`targetkg.models.bn.api` -- ``learn``, ``ecv``, ``simulate``, ``subnetworks``.

The names below are imported on first use (PEP 562), so importing a light submodule
(e.g. ``targetkg.models.bn.cli`` from the ``targetkg`` command line) does not pull in
numba/scipy.
"""

from __future__ import annotations

import importlib
import sys
import types

_LAZY = {
    "learn": "api", "ecv": "api", "simulate": "api", "subnetworks": "api",
    "LoadedMatrix": "data", "MatrixFormatError": "data", "load_matrix": "data", "load_metadata": "data",
    "map_variables": "data",
    "EcvResult": "results", "KnockdownResult": "results", "Network": "results", "Subnetwork": "results",
    "read_gmt": "subnet",
}

__all__ = [
    "EcvResult",
    "KnockdownResult",
    "LoadedMatrix",
    "MatrixFormatError",
    "Network",
    "Subnetwork",
    "ecv",
    "learn",
    "load_matrix",
    "load_metadata",
    "map_variables",
    "read_gmt",
    "simulate",
    "subnetworks",
]


class _LazyPackage(types.ModuleType):
    """Resolves the names above on every access, so that ``bn.learn`` / ``bn.ecv`` stay the api functions
    even after the submodules of the same name (``learn.py``, ``ecv.py``) have been imported (as with
    the former eager ``from .api import ...``)."""

    def __getattribute__(self, name: str):
        mod = _LAZY.get(name)
        if mod is not None:
            return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
        return super().__getattribute__(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(__all__))


sys.modules[__name__].__class__ = _LazyPackage
