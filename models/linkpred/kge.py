"""Knowledge-graph embeddings through PyKEEN: the model is picked by name, trained and evaluated
with PyKEEN's own pipeline (sLCWA training loop, negative sampler, early stopper, filtered
rank-based evaluator).

Training config (chosen a priori, not tuned on the test set):

- sLCWA with a few uniformly corrupted negatives per positive (``num_negs_per_pos``, default 4)
  and big batches (4096): the cost of an epoch is ~ (1 + negatives) x triples scores, so a
  large number of negatives is what makes RotatE slow on ~0.8M triples;
- RotatE (and TransE) use the self-adversarial negative-sampling loss (NSSALoss, margin 9,
  temperature 1, as in Sun et al. 2019 and PyKEEN's RotatE reproductions), Adam lr 2e-3, d=100;
- convergence: PyKEEN's EarlyStopper on the *validation* edges of the (first) target relation
  (for the leakage-aware split these are edges of held-out drugs, like the test edges), every
  ``es_frequency`` epochs, stopping after ``es_patience`` evaluations without a relative
  improvement of ``es_delta``; the best epoch's weights are restored. ``epochs`` is then the
  maximum number of epochs. The stopper's metric is the shared evaluation's filtered MRR
  (evaluate.py: ranks among the relation's candidates, as the R-GCN's early stopping and model
  selection do), not PyKEEN's rank among all entities: a distance model like RotatE has no
  matrix form for 1-vs-all scoring, so PyKEEN's evaluator materialises batch x 28,771 entities x d
  (2.2 GB) and took 8-9 s per validation on Hetionet, ~270 s of a 62-epoch run, against ~1.5 s;
- no evaluation inside the loop besides the (small) validation set; PyKEEN's final evaluation
  on the test set is skipped unless asked for (``pykeen_eval``): the shared evaluation
  (evaluate.py) only scores the target relation;
- one torch thread unless the machine is idle (``threads``: an int or "auto"): on a shared 2-core
  machine, 2 OpenMP threads competing with other processes were ~4x *slower* than 1.
"""

from __future__ import annotations

import time

import numpy as np

KGE_MODELS = {"transe": "TransE", "distmult": "DistMult", "complex": "ComplEx", "rotate": "RotatE",
              "rescal": "RESCAL", "tucker": "TuckER", "hole": "HolE"}

DEFAULTS = {"embedding_dim": 100, "lr": 0.002, "batch_size": 4096, "num_negs_per_pos": 4,
            "training_loop": "sLCWA", "negative_sampler": "basic", "loss": None, "loss_kwargs": None,
            "early_stopping": True, "es_frequency": 2, "es_patience": 3, "es_delta": 0.01,
            "num_workers": 0}

# Model-specific defaults (a priori, from the RotatE paper / PyKEEN's reproductions).
MODEL_DEFAULTS = {
    "rotate": {"loss": "NSSALoss", "loss_kwargs": {"margin": 9.0, "adversarial_temperature": 1.0}},
    "transe": {"loss": "NSSALoss", "loss_kwargs": {"margin": 9.0, "adversarial_temperature": 1.0}},
    "complex": {"loss": "SoftplusLoss"},
    "distmult": {"loss": "SoftplusLoss"},
}


def torch_threads(threads="auto") -> int:
    """Set and return the number of torch threads: an int, or "auto" = all cores only if the
    machine is otherwise idle (1-minute load average below cores - 0.5), else 1."""
    import os

    import torch

    n = os.cpu_count() or 1
    if threads in (None, "auto"):
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
        threads = n if load < n - 0.5 else 1
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    return threads


def _epoch_timer():
    from pykeen.training.callbacks import TrainingCallback

    class EpochTimer(TrainingCallback):
        """Wall time at the end of every training epoch (before the stopper's evaluation)."""

        def __init__(self):
            super().__init__()
            self.t_end: list[float] = []

        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs) -> None:
            self.t_end.append(time.time())

    return EpochTimer()


class _SharedValidation:
    """Stands in for PyKEEN's evaluator inside its EarlyStopper: the stopper's metric is the
    shared evaluation's MRR on the validation edges (everything else of the stopper, patience,
    best-weight checkpoints and callbacks, is PyKEEN's own)."""

    batch_size = None
    slice_size = None

    def __init__(self, tr, split, relation: str, key: str, seed: int):
        from targetkg.models.linkpred.splits import Split

        rel = tr.relation_id(relation)
        valid = split.valid[split.valid[:, 1] == rel]
        self.tr, self.relation, self.key, self.seed = tr, relation, key, seed
        self.split = Split(split.train, np.zeros((0, 3), dtype=split.train.dtype), valid, [relation], split.mode,
                           split.seed)

    def evaluate(self, model, **_ignored):
        from targetkg.models.linkpred.evaluate import evaluate

        mrr = float(evaluate(KGEScorer(model, self.key), self.tr, self.split, self.relation, seed=self.seed)["mrr"])
        return _ValidationResult(mrr)


class _ValidationResult:
    def __init__(self, mrr: float):
        self.mrr = mrr

    def get_metric(self, name: str) -> float:
        return self.mrr

    def to_flat_dict(self) -> dict:
        return {"mrr": self.mrr}


def _shared_validation_stopper():
    """PyKEEN's EarlyStopper whose evaluations are ``_SharedValidation`` (passed as ``validation``)."""
    import dataclasses

    from pykeen.stoppers import EarlyStopper

    @dataclasses.dataclass
    class SharedValidationEarlyStopper(EarlyStopper):
        validation: _SharedValidation | None = None

        def __post_init__(self):
            super().__post_init__()
            if self.validation is not None:
                self.evaluator = self.validation

    return SharedValidationEarlyStopper


def train_kge(model: str, tr, split, epochs: int, seed: int, params: dict | None = None,
              eval_entities=None, evaluate_pykeen: bool = True, device: str = "cpu") -> tuple:
    """Returns (KGEScorer, info). info: per-epoch times, time and epochs to convergence (early
    stopping on the validation edges), losses, the stopper's validation history and (if
    ``evaluate_pykeen``) PyKEEN's own filtered metrics on the held-out target triples."""
    import torch
    from pykeen.pipeline import pipeline
    from targetkg.graph.export import to_triples_factory

    key = model.lower()
    if key not in KGE_MODELS:
        raise ValueError(f"unknown KGE model {model!r}: one of {sorted(KGE_MODELS)}")
    p = {**DEFAULTS, **MODEL_DEFAULTS.get(key, {}), **{k: v for k, v in (params or {}).items() if v is not None}}
    train_tf = to_triples_factory(tr, split.train)
    test_tf = to_triples_factory(tr, split.test)
    has_valid = len(split.valid) > 0
    valid_tf = to_triples_factory(tr, split.valid if has_valid else split.test)
    timer = _epoch_timer()
    kw = dict(
        training=train_tf, testing=test_tf, validation=valid_tf,
        model=KGE_MODELS[key], model_kwargs={"embedding_dim": int(p["embedding_dim"])},
        optimizer="Adam", optimizer_kwargs={"lr": float(p["lr"])},
        training_loop=p["training_loop"],
        training_kwargs={"num_epochs": int(epochs), "batch_size": int(p["batch_size"]), "callbacks": [timer],
                         "num_workers": int(p["num_workers"])},
        random_seed=seed, device=device, use_tqdm=False,
        evaluation_kwargs={"batch_size": 256},
    )
    if p["training_loop"].lower() == "slcwa":
        kw["negative_sampler"] = p["negative_sampler"]
        kw["negative_sampler_kwargs"] = {"num_negs_per_pos": int(p["num_negs_per_pos"])}
    if p.get("loss"):
        kw["loss"] = p["loss"]
        if p.get("loss_kwargs"):
            kw["loss_kwargs"] = dict(p["loss_kwargs"])
    stop_times: list[float] = []
    # the stopper validates on the first target's validation edges (none: no early stopping)
    validation = _SharedValidation(tr, split, split.targets[0], key, seed) if has_valid else None
    use_es = bool(p["early_stopping"]) and validation is not None and len(validation.split.test) > 0
    if use_es:
        kw["stopper"] = _shared_validation_stopper()
        kw["stopper_kwargs"] = {
            "frequency": int(p["es_frequency"]), "patience": int(p["es_patience"]),
            "relative_delta": float(p["es_delta"]), "metric": "mrr", "larger_is_better": True,
            "validation": validation,
            "result_callbacks": [lambda stopper, result, epoch: stop_times.append(time.time())],
        }
    if eval_entities is not None:
        kw["evaluation_entity_whitelist"] = {tr.entities[i] for i in eval_entities}
    if not evaluate_pykeen:
        # PyKEEN always evaluates in pipeline(); give it a one-triple test set then.
        kw["testing"] = to_triples_factory(tr, split.test[:1])
    t0 = time.time()
    result = pipeline(**kw)
    total = time.time() - t0
    losses = [float(x) for x in result.losses]
    # Pure training time per epoch: from the previous event (epoch end, or end of the stopper's
    # validation that followed it) to this epoch's end.
    events = sorted([(t, "epoch") for t in timer.t_end] + [(t, "eval") for t in stop_times])
    epoch_times, t_prev = [], None
    for t, kind in events:
        if kind == "epoch" and t_prev is not None:
            epoch_times.append(t - t_prev)
        t_prev = t
    ends = timer.t_end
    n_ep = len(losses)
    stopper = getattr(result, "stopper", None)
    es = {}
    if use_es and stopper is not None and getattr(stopper, "results", None) is not None:
        best_epoch = stopper.best_epoch
        es = {"validation_mrr": [float(x) for x in stopper.results],
              "validation_epochs": [int(p["es_frequency"]) * (i + 1) for i in range(len(stopper.results))],
              "stopped": bool(stopper.stopped), "best_epoch": best_epoch,
              "best_validation": float(stopper.best_metric) if stopper.results else None}
        bp = getattr(stopper, "best_model_path", None)
        if not stopper.stopped and bp is not None and bp.is_file():
            # Max epochs reached: restore the best validation epoch too.
            result.model.load_state_dict(torch.load(bp, weights_only=False))
            bp.unlink()
    first_epoch = float(ends[0] - t0) if ends else None  # includes pipeline set-up
    epoch_s = float(np.median(epoch_times)) if epoch_times else float(result.train_seconds) / max(1, n_ep)
    best = int(es.get("best_epoch") or n_ep)
    # wall time from the pipeline's start to the end of the validation that found the best epoch
    k = best // int(p["es_frequency"])
    if use_es and 0 < k <= len(stop_times):
        t_conv = stop_times[k - 1]
    elif 0 < best <= len(ends):
        t_conv = ends[best - 1]
    else:
        t_conv = t0 + float(result.train_seconds)
    info = {
        "train_s": float(result.train_seconds), "eval_s": float(result.evaluate_seconds),
        "epoch_s": epoch_s, "epoch_times": [float(x) for x in epoch_times], "first_epoch_s": first_epoch,
        "epochs_run": n_ep, "converge_epochs": best, "converge_s": float(t_conv - t0),
        "pipeline_s": total, "losses": losses, "params": p, "threads": torch.get_num_threads(), **es,
    }
    if evaluate_pykeen:
        m = result.metric_results
        info["pykeen_metrics"] = {
            "mrr": float(m.get_metric("both.realistic.inverse_harmonic_mean_rank")),
            "hits_at_1": float(m.get_metric("both.realistic.hits_at_1")),
            "hits_at_3": float(m.get_metric("both.realistic.hits_at_3")),
            "hits_at_10": float(m.get_metric("both.realistic.hits_at_10")),
        }
    return KGEScorer(result.model, key), info


class KGEScorer:
    def __init__(self, model, name: str):
        self.model = model
        self.name = name

    def score_block(self, rel, heads, tails):
        import torch

        m = self.model
        m.eval()
        with torch.inference_mode():
            hr = torch.stack([torch.as_tensor(heads, dtype=torch.long),
                              torch.full((len(heads),), int(rel), dtype=torch.long)], dim=1)
            s = m.score_t(hr, tails=torch.as_tensor(tails, dtype=torch.long))
        return s.float().numpy()

    def score_pairs(self, rel, heads, tails, batch: int = 65536):
        import torch

        out = []
        self.model.eval()
        with torch.inference_mode():
            for s in range(0, len(heads), batch):
                h = torch.as_tensor(heads[s:s + batch], dtype=torch.long)
                t = torch.as_tensor(tails[s:s + batch], dtype=torch.long)
                r = torch.full_like(h, int(rel))
                out.append(self.model.score_hrt(torch.stack([h, r, t], 1)).view(-1).float().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
