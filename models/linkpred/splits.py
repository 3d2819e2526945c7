"""Train/validation/test splits of an exported graph.

Only *target* edges (the relations being predicted, e.g. TREATS) are ever held out; every other
edge stays in training. Modes:

- ``random``: a random share of the target edges;
- ``head`` / ``tail`` (leakage-aware: hold out whole drugs or whole diseases): a random share of
  the target relation's head (or tail) entities is chosen and *all* their target edges go to
  test/validation, so a test pair's endpoint has no training edge of that type.

Deterministic for a given seed; ``seeds`` gives several splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from targetkg.graph.export import Triples

MODES = ("random", "head", "tail")


@dataclass
class Split:
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    targets: list[str]
    mode: str
    seed: int
    held_out_entities: list[int] = field(default_factory=list)

    def describe(self) -> dict:
        return {"mode": self.mode, "seed": self.seed, "targets": self.targets, "train": len(self.train),
                "valid": len(self.valid), "test": len(self.test),
                "held_out_entities": len(self.held_out_entities)}


def split(tr: Triples, targets: list[str], mode: str = "random", test_frac: float = 0.2,
          valid_frac: float = 0.1, seed: int = 0) -> Split:
    if mode not in MODES:
        raise ValueError(f"split mode {mode!r}: one of {MODES}")
    rng = np.random.default_rng(seed)
    rows = tr.mapped
    target_ids = [tr.relation_id(t) for t in targets]
    is_target = np.isin(rows[:, 1], target_ids)
    tgt_idx = np.flatnonzero(is_target)
    assign = np.zeros(rows.shape[0], dtype=np.int8)  # 0 train, 1 valid, 2 test
    held: list[int] = []
    if mode == "random":
        perm = rng.permutation(tgt_idx)
        n_test = int(round(test_frac * len(perm)))
        n_val = int(round(valid_frac * len(perm)))
        assign[perm[:n_test]] = 2
        assign[perm[n_test:n_test + n_val]] = 1
    else:
        col = 0 if mode == "head" else 2
        for rid in target_ids:
            idx = tgt_idx[rows[tgt_idx, 1] == rid]
            ents = np.unique(rows[idx, col])
            perm = rng.permutation(ents)
            n_test = max(1, int(round(test_frac * len(perm))))
            n_val = int(round(valid_frac * len(perm)))
            test_e, val_e = perm[:n_test], perm[n_test:n_test + n_val]
            assign[idx[np.isin(rows[idx, col], test_e)]] = 2
            assign[idx[np.isin(rows[idx, col], val_e)]] = 1
            held.extend(int(x) for x in np.concatenate([test_e, val_e]))
    return Split(rows[assign == 0], rows[assign == 1], rows[assign == 2], list(targets), mode, seed, held)


def splits(tr: Triples, targets: list[str], mode: str = "random", seeds=(0, 1, 2), **kw) -> list[Split]:
    return [split(tr, targets, mode=mode, seed=s, **kw) for s in seeds]
