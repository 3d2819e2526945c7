"""Bayesian networks for TargetKG (``targetkg.models.bn``).

Structure learning (BGe / BIC / BNRC spline scores, candidate screening, hill climbing,
bootstrap, structure MCMC, NNSR on local / Dask / Ray executors), knockdown simulation by graph
surgery, per-sample Edge Contribution values (ECv / Delta ECv) and subnetworks.

Entry points: :mod:`targetkg.models.bn.api` -- ``learn``, ``ecv``, ``simulate``, ``subnetworks``.
"""

from .api import ecv, learn, simulate, subnetworks
from .data import LoadedMatrix, MatrixFormatError, load_matrix, load_metadata, map_variables
from .results import EcvResult, KnockdownResult, Network, Subnetwork
from .subnet import read_gmt

__all__ = [
    "learn", "ecv", "simulate", "subnetworks", "load_matrix", "load_metadata", "map_variables",
    "LoadedMatrix", "MatrixFormatError", "Network", "EcvResult", "KnockdownResult", "Subnetwork", "read_gmt",
]
