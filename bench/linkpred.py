"""Link-prediction benchmark on the Hetionet edges of the dev warehouse (one run, this machine).

export -> split (whole drugs held out for TREATS) -> train RotatE (PyKEEN) and the R-GCN ->
evaluate every model and the degree / path-count baselines -> predict top-K per drug for all
drugs and write back (then delete the runs' predictions unless --keep).

    PYTHONPATH=... python bench/linkpred.py [--rotate-epochs 2] [--gcn-epochs 5] [--top-k 100]

The last line is one JSON object:
{"models": {name: {"treats_auroc", "treats_auprc", "mrr", "hits_at_10", "epoch_s"}}, "cycle_s", "peak_rss_mb", ...}
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rotate-epochs", type=int, default=2)
    ap.add_argument("--gcn-epochs", type=int, default=5)
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="head")
    ap.add_argument("--keep", action="store_true", help="keep the written predictions")
    ap.add_argument("--skip-rotate", action="store_true")
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from targetkg.graph.connection import driver
    from targetkg.graph.export import export_triples
    from targetkg.models.linkpred import api
    from targetkg.settings import get_settings

    settings = get_settings()
    t_cycle = time.time()
    t0 = time.time()
    tr = export_triples(driver(settings), settings=settings)
    export_s = time.time() - t0
    print(f"export: {len(tr)} edges, {tr.num_entities} entities in {export_s:.1f}s", file=sys.stderr, flush=True)
    runs = {}
    if not a.skip_rotate:
        runs["rotate"] = api.train(model="rotate", relations=["TREATS"], epochs=a.rotate_epochs, seed=a.seed,
                                   split_mode=a.split, triples=tr, settings=settings,
                                   params={"embedding_dim": 100, "pykeen_eval": False})
        print("rotate done", runs["rotate"], file=sys.stderr, flush=True)
    runs["gcn"] = api.train(model="gcn", relations=["TREATS"], epochs=a.gcn_epochs, seed=a.seed, split_mode=a.split,
                            triples=tr, settings=settings, baselines="rotate" not in runs)
    print("gcn done", runs["gcn"], file=sys.stderr, flush=True)
    models, timings = {}, {"export_s": export_s}
    for name, rid in runs.items():
        run = json.loads((api.runs_dir(settings) / rid / "run.json").read_text())
        for mname, m in run["metrics"]["TREATS"].items():
            models[mname] = {"treats_auroc": m["auroc_all"], "treats_auprc": m["auprc_all"],
                             "treats_auroc_degree_matched": m["auroc_degree_matched"], "mrr": m["mrr"],
                             "hits_at_10": m["hits_at_10"], "epoch_s": m.get("epoch_s"),
                             "enrichment_at_1": m["enrichment"]["1"], "run_id": rid}
        timings[f"{name}_timings"] = run["timings"]
    # predict + write back top-K per drug, all drugs, with the model trained last
    main = runs.get("rotate", runs["gcn"])
    t0 = time.time()
    out = api.predict(main, "TREATS", top_k=a.top_k, write=True, settings=settings)
    pw = time.time() - t0
    timings.update({"predict_write_s": pw, "predictions": out["n"], "predictions_per_s": out["n"] / pw,
                    "score_s": out["score_s"], "explain_s": out["explain_s"], "write_s": out.get("write_s")})
    cycle_s = time.time() - t_cycle
    if not a.keep:
        for rid in runs.values():
            api.delete_run(rid, settings=settings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"models": models, "cycle_s": cycle_s, "peak_rss_mb": peak, "edges": len(tr),
              "split": a.split, "seed": a.seed, "epochs": {"rotate": a.rotate_epochs, "gcn": a.gcn_epochs},
              "timings": timings}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
