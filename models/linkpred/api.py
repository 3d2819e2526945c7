"""One call per experiment (PyKEEN pipeline() style): export -> split -> train -> evaluate ->
save under a run id; then predict (top-k per subject, calibrated probabilities, explanations)
and write back.

    run_id = train(model="rotate", relations=["TREATS"], epochs=5, seed=0)
    predict(run_id, "TREATS", top_k=100, write=True)
    delete_run(run_id)

Models: the PyKEEN KGEs by name (transe, distmult, complex, rotate, ...), ``degree`` and
``pathcount`` baselines. Every run also evaluates the two baselines on the same split, so they
are always reported beside the model (``metrics[relation][name]``).

A run directory (``$TARGETKG_HOME/linkpred/runs/RUN``) holds run.json (model, params, metrics,
split, release, code version, calibration), the exported graph with its id maps (triples.npz),
the split (split.npz), the fitted scorer (scorer.pt) and the plots (plots/*.png).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import pickle
import time
from pathlib import Path

import numpy as np
from targetkg.graph.export import HETIONET_SOURCE, Triples, export_triples
from targetkg.models.linkpred.baselines import DegreeScorer, PathCountScorer
from targetkg.models.linkpred.evaluate import (
    calibrate,
    candidates,
    evaluate,
    probability,
)
from targetkg.models.linkpred.kge import KGE_MODELS, train_kge
from targetkg.models.linkpred.splits import Split, split
from targetkg.models.linkpred.writeback import (
    ALL_PREDICTED,
    PREDICTED_TYPE,
    delete_run_edges,
    write_predictions,
)

BASELINES = ("degree", "pathcount")
# What earlier runs wrote back (PREDICTED_* edges, which also copy the curated edges they rank as
# `known`, and the ModelRun's PREDICTED_FOR links): never training data for a new run, or the
# held-out edges would sit in its training graph under another name.
MODEL_OUTPUT_TYPES = frozenset(ALL_PREDICTED) | {"PREDICTED_FOR"}


def _training_relation_types(drv, database: str) -> list[str]:
    recs, _, _ = drv.execute_query("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS t",
                                   database_=database)
    return sorted(r["t"] for r in recs if r["t"] not in MODEL_OUTPUT_TYPES)


def runs_dir(settings=None) -> Path:
    from targetkg.settings import get_settings

    settings = settings or get_settings()
    return Path(settings.home) / "linkpred" / "runs"


def _release(drv, database, source: str | None = None) -> str | None:
    """The data release the run learned from: with a source filter, the release of that source's
    (:Source) node (sources are loaded, and re-loaded, at different releases: the newest release in
    the warehouse may be another source's); otherwise the newest release of any source."""
    if source:
        recs, _, _ = drv.execute_query("MATCH (s:Source {id: $source}) RETURN s.release AS r", source=source,
                                       database_=database)
        if recs and recs[0]["r"]:
            return recs[0]["r"]
    recs, _, _ = drv.execute_query("MATCH (s:Source) RETURN max(s.release) AS r", database_=database)
    return recs[0]["r"] if recs else None


def _source_version(drv, database, source: str | None) -> str | None:
    if not source:
        return None
    recs, _, _ = drv.execute_query("MATCH (s:Source {id: $source}) RETURN s.version AS v", source=source,
                                   database_=database)
    return recs[0]["v"] if recs else None


def _code_version() -> str:
    import targetkg

    return getattr(targetkg, "__version__", "unknown")


def _load_config(config) -> dict:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    p = Path(config)
    text = p.read_text()
    if p.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)


def fit_scorer(name: str, tr: Triples, sp: Split, epochs: int, seed: int, params: dict, targets: list[str]):
    from targetkg.models.linkpred.kge import torch_threads

    torch_threads(params.get("threads", "auto"))
    key = name.lower()
    t0 = time.time()
    if key == "degree":
        return DegreeScorer(tr, sp.train), {"train_s": time.time() - t0, "epoch_s": 0.0}
    if key == "pathcount":
        sc = PathCountScorer(tr, sp.train, targets, max_length=int(params.get("max_length", 3)), seed=seed)
        return sc, {"train_s": time.time() - t0, "epoch_s": 0.0}
    if key in ("gcn", "rgcn"):
        from targetkg.models.linkpred.gcn import train_gcn

        return train_gcn(tr, sp, epochs=epochs, seed=seed, params=params, targets=targets)
    if key in KGE_MODELS:
        ents = np.unique(np.concatenate([np.concatenate(candidates(tr, tr.mapped, tr.relation_id(t))) for t in targets]))
        return train_kge(key, tr, sp, epochs=epochs, seed=seed, params=params, eval_entities=ents,
                         evaluate_pykeen=bool(params.get("pykeen_eval", True)))
    raise ValueError(f"unknown model {name!r}: {sorted(KGE_MODELS) + ['gcn'] + list(BASELINES)}")


def validation_metrics(scorer, tr: Triples, sp: Split, relation: str, seed: int = 0) -> dict | None:
    """The shared evaluation on the *validation* edges of ``relation`` (filtered by the training
    edges only; the test edges are not looked at): for model selection and early stopping."""
    rel = tr.relation_id(relation)
    valid = sp.valid[sp.valid[:, 1] == rel]
    if len(valid) == 0:
        return None
    vs = Split(sp.train, np.zeros((0, 3), dtype=sp.train.dtype), valid, sp.targets, sp.mode, sp.seed)
    m = evaluate(scorer, tr, vs, relation, seed=seed)
    return {k: m[k] for k in ("n_test", "mrr", "hits_at_10", "auroc_all", "auroc_degree_matched", "auprc_all")}


def train(model: str = "rotate", relations=("TREATS",), epochs: int = 5, seed: int = 0, config=None,
          settings=None, export_relations=None, split_mode: str = "head", source: str | None = HETIONET_SOURCE,
          params: dict | None = None, triples: Triples | None = None, baselines: bool = True) -> str:
    """Run a whole experiment and return its run id. ``relations``: the target relations (held
    out and evaluated); ``export_relations``: the graph to learn from (default: every type of
    ``source`` except earlier runs' PREDICTED_* / PREDICTED_FOR edges, which are never training
    data). ``split_mode``: random | head (hold out whole drugs) | tail (whole diseases).
    ``config``: a dict or a YAML/JSON file with any of these keyword arguments (they win)."""
    from targetkg.graph.connection import driver

    from targetkg.settings import get_settings

    cfg = _load_config(config)
    model = cfg.get("model", model)
    relations = cfg.get("relations", relations)
    if isinstance(relations, str):
        relations = [r for r in relations.split(",") if r]
    relations = list(relations)
    epochs = int(cfg.get("epochs", epochs))
    seed = int(cfg.get("seed", seed))
    export_relations = cfg.get("export_relations", export_relations)
    if isinstance(export_relations, str):
        export_relations = export_relations.split(",")
    split_mode = cfg.get("split_mode", split_mode)
    source = cfg.get("source", source)
    params = {**(params or {}), **cfg.get("params", {})}
    settings = settings or get_settings()
    drv = driver(settings)
    t_start = time.time()
    asked = sorted((set(export_relations or ()) | set(relations)) & MODEL_OUTPUT_TYPES)
    if asked:
        raise ValueError(f"{asked}: model predictions cannot be training or target edges (they copy the curated "
                         "edges they rank, held-out ones included)")
    asked_export = None if export_relations is None else sorted(set(export_relations))  # for the run id
    if triples is None:
        if export_relations is not None:
            export_relations = sorted(set(export_relations) | set(relations))
        else:  # every type in the warehouse except what earlier runs wrote back
            export_relations = _training_relation_types(drv, settings.neo4j_database)
        tr = export_triples(drv, relations=export_relations, source=source, settings=settings)
    else:
        tr = triples
    leaked = sorted(set(tr.relations) & MODEL_OUTPUT_TYPES)
    if leaked:
        raise ValueError(f"the exported graph holds model predictions {leaked}: remove them from the export")
    t_export = time.time() - t_start
    sp = split(tr, relations, mode=split_mode, seed=seed, test_frac=float(params.get("test_frac", 0.2)),
               valid_frac=float(params.get("valid_frac", 0.1)))
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    # The run id names the experiment (model, settings, the exported graph, the code), not the time:
    # re-running the same experiment on the same data gives the same id, so its predictions replace
    # the earlier ones instead of piling up beside them (`make up` twice = the same graph).
    experiment = {"model": model.lower(), "relations": relations, "epochs": epochs, "seed": seed,
                  "split_mode": split_mode, "params": params, "source": source,
                  "export_relations": asked_export, "baselines": bool(baselines),
                  "graph": tr.checksum(), "code_version": _code_version()}
    digest = hashlib.sha1(json.dumps(experiment, sort_keys=True, default=str).encode()).hexdigest()[:12]
    run_id = f"{model.lower()}-s{seed}-{digest}"
    rdir = runs_dir(settings) / run_id
    (rdir / "plots").mkdir(parents=True, exist_ok=True)

    names = [model.lower()] + ([b for b in BASELINES if b != model.lower()] if baselines else [])
    metrics: dict = {r: {} for r in relations}
    timings: dict = {"export_s": t_export}
    main_scorer, main_info = None, {}
    valid_metrics: dict = {r: {} for r in relations}
    for name in names:
        sc, info = fit_scorer(name, tr, sp, epochs, seed, params, relations)
        timings[f"{name}_train_s"] = info.get("train_s")
        for r in relations:
            t0 = time.time()
            m = evaluate(sc, tr, sp, r, seed=seed, plot_dir=rdir / "plots", model_name=name)
            m["epoch_s"] = info.get("epoch_s")
            # time / epochs to convergence (early stopping on the validation edges); baselines: fit time
            m["converge_s"] = info.get("converge_s", info.get("train_s"))
            m["converge_epochs"] = info.get("converge_epochs", 0)
            m["epochs_run"] = info.get("epochs_run", 0)
            # early stopping fired (False: the maximum number of epochs was reached first)
            m["converged"] = bool(info.get("stopped", name in BASELINES))
            vm = validation_metrics(sc, tr, sp, r, seed=seed)
            if vm is not None:
                valid_metrics[r][name] = vm
            if "pykeen_metrics" in info and name == model.lower():
                m["pykeen"] = info["pykeen_metrics"]
            metrics[r][name] = m
            timings[f"{name}_{r}_eval_s"] = time.time() - t0
        if name == model.lower():
            main_scorer, main_info = sc, info
    calib = {r: calibrate(main_scorer, tr, sp, r, seed=seed) for r in relations}
    tr.save(rdir / "triples.npz")
    np.savez_compressed(rdir / "split.npz", train=sp.train, valid=sp.valid, test=sp.test)
    _save_scorer(main_scorer, rdir / "scorer.pt")
    run = {
        "run_id": run_id, "model": model.lower(), "relations": relations, "epochs": epochs, "seed": seed,
        "params": {**params, **{k: v for k, v in main_info.get("params", {}).items() if v is not None}},
        "split": sp.describe(), "export": {"source": source,
                                           "source_version": _source_version(drv, settings.neo4j_database, source),
                                           "relations": export_relations, "edges": len(tr),
                                           "entities": tr.num_entities, "checksum": tr.checksum()},
        "metrics": {r: {k: {kk: vv for kk, vv in v.items()} for k, v in metrics[r].items()} for r in relations},
        "validation_metrics": valid_metrics,
        "training": {k: v for k, v in main_info.items() if k not in ("params", "losses", "pykeen_metrics")},
        "losses": main_info.get("losses"), "timings": timings, "calibration": calib,
        "release": _release(drv, settings.neo4j_database, source), "code_version": _code_version(),
        "created_at": created,
    }
    (rdir / "run.json").write_text(json.dumps(run, indent=2, default=str))
    return run_id


def _save_scorer(sc, path: Path) -> None:
    import torch

    torch.save(sc, path, pickle_protocol=pickle.HIGHEST_PROTOCOL)


def load_run(run_id: str, settings=None):
    import torch

    rdir = runs_dir(settings) / run_id
    if not (rdir / "run.json").exists():
        raise FileNotFoundError(f"no run {run_id!r} in {rdir.parent}")
    run = json.loads((rdir / "run.json").read_text())
    tr = Triples.load(rdir / "triples.npz")
    z = np.load(rdir / "split.npz")
    sp = Split(z["train"], z["valid"], z["test"], run["relations"], run["split"]["mode"], run["seed"])
    sc = torch.load(rdir / "scorer.pt", weights_only=False)
    return run, tr, sp, sc


def top_k_per_head(scorer, rel: int, heads: np.ndarray, tails: np.ndarray, k: int, block: int = 256):
    """Top-k tails per head, scored in blocks (never the dense heads x tails list)."""
    k = min(k, len(tails))
    out_h, out_t, out_s, out_r = [], [], [], []
    for s in range(0, len(heads), block):
        hb = heads[s:s + block]
        S = scorer.score_block(rel, hb, tails)
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
        sc = np.take_along_axis(S, idx, 1)
        order = np.argsort(-sc, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, 1)
        sc = np.take_along_axis(sc, order, 1)
        out_h.append(np.repeat(hb, k))
        out_t.append(tails[idx].ravel())
        out_s.append(sc.ravel())
        out_r.append(np.tile(np.arange(1, k + 1), len(hb)))
    return np.concatenate(out_h), np.concatenate(out_t), np.concatenate(out_s), np.concatenate(out_r)


def top_k_per_tail(scorer, rel: int, heads: np.ndarray, tails: np.ndarray, k: int, block: int = 256):
    """Top-k heads per tail (e.g. the best genes for each disease), scored in blocks of tails."""
    k = min(k, len(heads))
    out_h, out_t, out_s, out_r = [], [], [], []
    for s in range(0, len(tails), block):
        tb = tails[s:s + block]
        S = scorer.score_block(rel, heads, tb).T  # tails x heads
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
        sc = np.take_along_axis(S, idx, 1)
        order = np.argsort(-sc, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, 1)
        sc = np.take_along_axis(sc, order, 1)
        out_h.append(heads[idx].ravel())
        out_t.append(np.repeat(tb, k))
        out_s.append(sc.ravel())
        out_r.append(np.tile(np.arange(1, k + 1), len(tb)))
    return np.concatenate(out_h), np.concatenate(out_t), np.concatenate(out_s), np.concatenate(out_r)


def _fmt_path(tr: Triples, e: dict) -> str:
    parts = [tr.entities[e["nodes"][0]]]
    for rel, fwd, node in zip(e["relations"], e["forward"], e["nodes"][1:]):
        parts.append(f"-[{rel}]->" if fwd else f"<-[{rel}]-")
        parts.append(tr.entities[node])
    return " ".join(parts)


def predict(run_id: str, relation: str = "TREATS", top_k: int = 100, write: bool = True,
            settings=None, explain_top: int | None = None, n_paths: int = 5, heads: list[str] | None = None,
            per: str = "subject", detail_top: int | None = 10) -> dict:
    """Top-k predictions per subject (``per="subject"``: the best diseases for each drug) or per
    object (``per="object"``: the best genes for each disease, i.e. predicted targets) for
    ``relation``; ``rank`` counts within that subject or object (``rank_of``). With ``write`` they
    replace the run's previous predictions of that type in Neo4j. Explanations: the top ``n_paths``
    path-count paths with their contributions (``explanation_paths``/``_contributions``) for the
    first ``explain_top`` predictions of each subject or object (None: every prediction); the
    first ``detail_top`` of them also get ``explanation_json`` (metapaths and node ids, ~3x the
    size: for all 86k predictions of a top-100 TREATS write it would not fit one transaction).
    Pairs without evidence (``Scorer.no_evidence_score``: for path-count, no path joins them) are
    left out, so a subject can get fewer than ``top_k``; ``without_evidence`` counts them."""
    from targetkg.graph.connection import driver

    from targetkg.settings import get_settings

    k = int(top_k)
    if per not in ("subject", "object"):
        raise ValueError(f"per must be 'subject' or 'object', not {per!r}")
    settings = settings or get_settings()
    run, tr, sp, sc = load_run(run_id, settings)
    if relation not in PREDICTED_TYPE:
        raise ValueError(f"no predicted type for {relation!r}: one of {sorted(PREDICTED_TYPE)}")
    if relation not in run["relations"]:
        # its edges were all training edges: no held-out edge evaluated, calibrated or selected the model
        raise ValueError(f"run {run_id} was trained to predict {run['relations']}, not {relation!r}: "
                         f"train a run with --relations {relation}")
    rel = tr.relation_id(relation)
    cand_h, cand_t = candidates(tr, tr.mapped, rel)
    if heads is not None:
        e2i = tr.entity_to_id
        cand_h = np.asarray(sorted(e2i[h] for h in heads if h in e2i), dtype=np.int64)
    t0 = time.time()
    H, T, S, R = (top_k_per_head if per == "subject" else top_k_per_tail)(sc, rel, cand_h, cand_t, k)
    # A pair the model has no evidence for (path-count: no path joins it) is not a prediction:
    # its score is the model's floor, shared by thousands of pairs, and its rank among them is
    # arbitrary. Ranks stay 1..n, as such pairs sort last.
    floor = sc.no_evidence_score(rel) if hasattr(sc, "no_evidence_score") else None
    without_evidence = 0
    if floor is not None:
        keep = S > floor
        without_evidence = int((~keep).sum())
        H, T, S, R = H[keep], T[keep], S[keep], R[keep]
    cal = run["calibration"].get(relation) or calibrate(sc, tr, sp, relation)
    P = probability(cal, S)
    cur = tr.of_relation(relation)
    known_set = set(zip(cur[:, 0].tolist(), cur[:, 2].tolist()))
    t_score = time.time() - t0
    # explanations: path-count contributions on the run's training graph
    t0 = time.time()
    expl_sc = sc if isinstance(sc, PathCountScorer) else PathCountScorer(tr, sp.train, [relation], seed=run["seed"])
    # explained a tail at a time: all its heads are walked together (PathCountScorer.explain_many)
    todo = np.arange(len(R)) if explain_top is None else np.flatnonzero(R <= explain_top)
    explained = {}
    for tail in np.unique(T[todo]).tolist():
        idx = todo[T[todo] == tail]
        for i, ex in zip(idx.tolist(), expl_sc.explain_many(rel, H[idx], tail, top=n_paths)):
            explained[i] = ex
    rows = []
    for i, (h, t, s, r, p) in enumerate(zip(H.tolist(), T.tolist(), S.tolist(), R.tolist(), P.tolist())):
        paths, contribs, ex_json = [], [], "[]"
        if i in explained:
            ex = explained[i]
            paths = [_fmt_path(tr, e) for e in ex]
            contribs = [float(e["contribution"]) for e in ex]
        if i in explained and (detail_top is None or r <= detail_top):
            ex_json = json.dumps([{"metapath": e["metapath"], "path": pa, "contribution": c,
                                   "nodes": [tr.entities[n] for n in e["nodes"]]}
                                  for e, pa, c in zip(ex, paths, contribs)])
        rows.append({"s": tr.entities[h], "o": tr.entities[t], "score": float(s), "probability": float(p),
                     "rank": int(r), "known": (h, t) in known_set, "paths": paths, "contribs": contribs,
                     "expl": ex_json})
    t_explain = time.time() - t0
    out = {"run_id": run_id, "relation": relation, "type": PREDICTED_TYPE[relation], "per": per, "n": len(rows),
           "without_evidence": without_evidence,
           "score_s": t_score, "explain_s": t_explain, "predictions": rows}
    if write:
        t0 = time.time()
        drv = driver(settings)
        lab = tr.label_array()
        s_label = lab[cand_h[0]] if len(cand_h) else "Drug"
        o_label = lab[cand_t[0]]
        out["written"] = write_predictions(drv, settings.neo4j_database, run, relation, rows, s_label, o_label,
                                           rank_of=per)
        out["write_s"] = time.time() - t0
    return out


def delete_run(run_id: str, settings=None, files: bool = False) -> None:
    """Remove the run's predicted edges and its ModelRun node (curated edges are never touched);
    ``files=True`` also deletes the run directory."""
    from targetkg.graph.connection import driver

    from targetkg.settings import get_settings

    settings = settings or get_settings()
    delete_run_edges(driver(settings), settings.neo4j_database, run_id)
    if files:
        import shutil

        shutil.rmtree(runs_dir(settings) / run_id, ignore_errors=True)


def explanations(run_id: str, subject: str, obj: str, settings=None) -> list[dict]:
    """The stored explanation of one written prediction (one Cypher query)."""
    from targetkg.graph.connection import driver
    from targetkg.models.linkpred.writeback import EXPLANATION_QUERY

    from targetkg.settings import get_settings

    settings = settings or get_settings()
    recs, _, _ = driver(settings).execute_query(EXPLANATION_QUERY, subject=subject, object=obj, run_id=run_id,
                                                database_=settings.neo4j_database)
    return [dict(r) for r in recs]
