"""Knowledge-graph embeddings through PyKEEN: the model is picked by name, trained and evaluated
with PyKEEN's own pipeline (training loop, negative sampler, filtered rank-based evaluator)."""

from __future__ import annotations

import time

import numpy as np

KGE_MODELS = {"transe": "TransE", "distmult": "DistMult", "complex": "ComplEx", "rotate": "RotatE",
              "rescal": "RESCAL", "tucker": "TuckER", "hole": "HolE"}

DEFAULTS = {"embedding_dim": 100, "lr": 0.01, "batch_size": 4096, "num_negs_per_pos": 4,
            "training_loop": "sLCWA", "negative_sampler": "basic", "loss": None}


def train_kge(model: str, tr, split, epochs: int, seed: int, params: dict | None = None,
              eval_entities=None, evaluate_pykeen: bool = True, device: str = "cpu") -> tuple:
    """Returns (KGEScorer, info). info: per-epoch times, losses and PyKEEN's own filtered
    metrics on the held-out target triples (restricted to the candidate entities)."""
    import torch
    from pykeen.pipeline import pipeline

    from targetkg.graph.export import to_triples_factory

    key = model.lower()
    if key not in KGE_MODELS:
        raise ValueError(f"unknown KGE model {model!r}: one of {sorted(KGE_MODELS)}")
    p = {**DEFAULTS, **(params or {})}
    train_tf = to_triples_factory(tr, split.train)
    test_tf = to_triples_factory(tr, split.test)
    valid_tf = to_triples_factory(tr, split.valid if len(split.valid) else split.test)
    kw = dict(
        training=train_tf, testing=test_tf, validation=valid_tf,
        model=KGE_MODELS[key], model_kwargs={"embedding_dim": int(p["embedding_dim"])},
        optimizer="Adam", optimizer_kwargs={"lr": float(p["lr"])},
        training_loop=p["training_loop"],
        training_kwargs={"num_epochs": int(epochs), "batch_size": int(p["batch_size"])},
        random_seed=seed, device=device, use_tqdm=False,
        evaluation_kwargs={"batch_size": 256},
    )
    if p["training_loop"].lower() == "slcwa":
        kw["negative_sampler"] = p["negative_sampler"]
        kw["negative_sampler_kwargs"] = {"num_negs_per_pos": int(p["num_negs_per_pos"])}
    if p.get("loss"):
        kw["loss"] = p["loss"]
    if eval_entities is not None:
        kw["evaluation_entity_whitelist"] = {tr.entities[i] for i in eval_entities}
    if not evaluate_pykeen:
        # PyKEEN always evaluates in pipeline(); give it a one-triple test set then.
        kw["testing"] = to_triples_factory(tr, split.test[:1])
    t0 = time.time()
    result = pipeline(**kw)
    total = time.time() - t0
    losses = [float(x) for x in result.losses]
    info = {
        "train_s": float(result.train_seconds), "eval_s": float(result.evaluate_seconds),
        "epoch_s": float(result.train_seconds) / max(1, epochs), "pipeline_s": total, "losses": losses,
        "params": p,
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
