"""Link-prediction benchmark on the Hetionet edges of the dev warehouse (one run, this machine).

export -> split (whole drugs held out for TREATS) -> train RotatE (PyKEEN, early stopping on the
validation TREATS edges) and the R-GCN (same) -> evaluate every model and the degree / path-count
baselines on the held-out TREATS edges -> predict top-K per drug for all drugs with the model that
is best on the *validation* edges (baselines included: a model that does not beat them is not
written back) and write back (then delete the runs' predictions unless --keep).

    PYTHONPATH=... python bench/linkpred.py [--rotate-epochs 100] [--gcn-epochs 100] [--top-k 100] [--threads 2]

``--rotate-epochs`` / ``--gcn-epochs`` are the maximum numbers of epochs; training stops earlier
when the validation MRR stops improving (the best epoch's weights are kept).

The last line is one JSON object:
{"models": {name: {"treats_auroc", "treats_auprc", "mrr", "hits_at_10", "epoch_s", "converge_s",
"converge_epochs", ...}}, "cycle_s", "peak_rss_mb", "write_model", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rotate-epochs", type=int, default=100,
                    help="max epochs (early stopping; RotatE converged at epoch 56 of 62 here, 12-14 s/epoch on 2 idle threads)")
    ap.add_argument("--gcn-epochs", type=int, default=100, help="max epochs (early stopping)")
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="head")
    ap.add_argument("--threads", default="auto", help='torch threads: an int, or "auto" (1 on a busy machine)')
    ap.add_argument("--write-model", default="best",
                    help="model whose predictions are written: best (by validation MRR) | rotate | gcn | pathcount")
    ap.add_argument("--keep", action="store_true", help="keep the written predictions")
    ap.add_argument("--skip-rotate", action="store_true")
    ap.add_argument("--skip-gcn", action="store_true")
    a = ap.parse_args(argv)

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # don't spin-wait on a shared machine
    from targetkg.graph.connection import driver
    from targetkg.graph.export import export_triples
    from targetkg.models.linkpred import api
    from targetkg.models.linkpred.kge import torch_threads

    from targetkg.settings import get_settings

    threads = torch_threads(a.threads)
    print(f"torch threads: {threads}", file=sys.stderr, flush=True)
    settings = get_settings()
    t_cycle = time.time()
    t0 = time.time()
    tr = export_triples(driver(settings), settings=settings)
    export_s = time.time() - t0
    print(f"export: {len(tr)} edges, {tr.num_entities} entities in {export_s:.1f}s", file=sys.stderr, flush=True)
    runs = {}
    common = dict(relations=["TREATS"], seed=a.seed, split_mode=a.split, triples=tr, settings=settings)
    if not a.skip_rotate:
        runs["rotate"] = api.train(model="rotate", epochs=a.rotate_epochs, baselines=True,
                                   params={"pykeen_eval": False, "threads": threads}, **common)
        print("rotate done", runs["rotate"], file=sys.stderr, flush=True)
    if not a.skip_gcn:
        runs["gcn"] = api.train(model="gcn", epochs=a.gcn_epochs, baselines=not runs,
                                params={"threads": threads}, **common)
        print("gcn done", runs["gcn"], file=sys.stderr, flush=True)
    if not runs:
        runs["pathcount"] = api.train(model="pathcount", epochs=0, baselines=True, **common)
    models, timings, valid = {}, {"export_s": export_s}, {}
    for name, rid in runs.items():
        run = json.loads((api.runs_dir(settings) / rid / "run.json").read_text())
        for mname, m in run["metrics"]["TREATS"].items():
            models[mname] = {"treats_auroc": m["auroc_all"], "treats_auprc": m["auprc_all"],
                             "treats_auroc_degree_matched": m["auroc_degree_matched"], "mrr": m["mrr"],
                             "hits_at_10": m["hits_at_10"], "hits_at_1": m["hits_at_1"], "epoch_s": m.get("epoch_s"),
                             "converge_s": m.get("converge_s"), "converge_epochs": m.get("converge_epochs"),
                             "epochs_run": m.get("epochs_run"), "converged": m.get("converged"),
                             "enrichment_at_1": m["enrichment"]["1"],
                             "run_id": rid}
            vm = run.get("validation_metrics", {}).get("TREATS", {}).get(mname)
            if vm is not None:
                models[mname]["valid_mrr"] = vm["mrr"]
                valid[mname] = vm["mrr"]
        timings[f"{name}_timings"] = run["timings"]
        timings[f"{name}_training"] = run.get("training")
    # The written model: the best on the validation edges (never chosen on the test edges).
    write_model = a.write_model if a.write_model != "best" else max(valid, key=valid.get)
    if write_model not in runs:
        t0 = time.time()
        runs[write_model] = api.train(model=write_model, epochs=0, baselines=False, params={"threads": threads},
                                      **common)
        timings[f"{write_model}_run_s"] = time.time() - t0
    t0 = time.time()
    out = api.predict(runs[write_model], "TREATS", top_k=a.top_k, write=True, settings=settings)
    pw = time.time() - t0
    timings.update({"predict_write_s": pw, "predictions": out["n"], "predictions_per_s": out["n"] / pw,
                    "score_s": out["score_s"], "explain_s": out["explain_s"], "write_s": out.get("write_s")})
    cycle_s = time.time() - t_cycle
    if not a.keep:
        for rid in runs.values():
            api.delete_run(rid, settings=settings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    beats = {m: all(models[m]["mrr"] > models[b]["mrr"] and
                    models[m]["treats_auroc_degree_matched"] > models[b]["treats_auroc_degree_matched"]
                    for b in ("degree", "pathcount") if b in models)
             for m in models if m not in ("degree", "pathcount")}
    result = {"models": models, "cycle_s": cycle_s, "peak_rss_mb": peak, "edges": len(tr),
              "split": a.split, "seed": a.seed, "threads": threads,
              "max_epochs": {"rotate": a.rotate_epochs, "gcn": a.gcn_epochs},
              "write_model": write_model, "write_run_id": runs[write_model], "valid_mrr": valid,
              "beats_baselines_on_test": beats, "timings": timings}
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
