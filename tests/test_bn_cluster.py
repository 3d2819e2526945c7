"""NNSR-style subnetwork sampling on a local Dask cluster (and the local process pool)."""

from __future__ import annotations

import numpy as np
import pytest

from targetkg.models.bn.learn import learn_structure


def _chain_data(p=30, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, p))
    X[:, 0] = rng.normal(size=n)
    for j in range(1, p):
        X[:, j] = 0.8 * X[:, j - 1] + 0.6 * rng.normal(size=n)
    return X


def _skeleton_recall(net, p):
    est = {frozenset((i, j)) for j, pa in enumerate(net.parents) for i in pa}
    true = {frozenset((j - 1, j)) for j in range(1, p)}
    return len(est & true) / len(true), len(est - true)


@pytest.mark.parametrize("backend", ["process", "dask"])
def test_nnsr_runs_on_executor(backend):
    p = 30
    X = _chain_data(p)
    net = learn_structure(X, [f"V{i}" for i in range(p)], score="bge", k=4, confidence="nnsr",
                          nnsr=dict(subset_size=10, n_subsets=24, threshold=0.5), executor=backend, n_workers=2)
    recall, extra = _skeleton_recall(net, p)
    assert recall > 0.9 and extra <= 3
    assert net.edges["posterior"].between(0, 1).all()
    # same result as in-process: the tasks are deterministic given their seeds
    local = learn_structure(X, [f"V{i}" for i in range(p)], score="bge", k=4, confidence="nnsr",
                            nnsr=dict(subset_size=10, n_subsets=24, threshold=0.5), executor="local")
    assert [sorted(s) for s in local.parents] == [sorted(s) for s in net.parents]
