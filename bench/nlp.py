"""Benchmark of the literature pipeline: abstracts/s and peak memory, 1 and 2 processes.

    python bench/nlp.py [--docs 1500] [--processes 1,2] [--profiles fast,accurate,ensemble] [--ner-model PATH] [--kb-dir PATH]

Each NER profile (`targetkg nlp train-ner --profile fast|medium|accurate|ensemble`) whose model is trained is
measured in turn; the JSON's top-level figures are the first (default) profile's, `by_profile` has all.

Stages timed on real abstracts (BC5CDR training + development, BioRED training + development,
1,500 abstracts, titles included):

  ner+link   tokenizer, sentences, NER, dictionary matcher, scispaCy abbreviations, scispaCy
             EntityLinker with the project's KB, grounding, the span filter (when the NER folder
             has one; TARGETKG_NLP_SPAN_FILTER=0 measures without it)
  full       the same plus candidate pairs and both relation classifiers (BC5CDR CID, BioRED)

With 2 processes the pipeline is loaded once and `LiteraturePipeline.extract(n_process=2)` forks
the workers (the 526k-concept KB and the models are shared copy-on-write); each takes whole
batches of 64 documents and the extracted documents come back in input order, as they do for a
user. Loading time is reported apart. Peak memory is the largest resident set of the benchmark process and
its workers together (sampled every 50 ms), and per process.

Prints a table, and as its very last line one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time

import psutil

from targetkg.nlp.config import corpora
from targetkg.nlp.readers import read_pubtator


class MemorySampler:
    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                procs = [me, *me.children(recursive=True)]
                rss = [p.memory_info().rss for p in procs]
                self.peak_total = max(self.peak_total, sum(rss))
                self.peak_single = max(self.peak_single, max(rss))
            except psutil.Error:
                pass
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


_PIPE = None
_DOCS: list = []


def run_stage(n_proc: int, relations: bool) -> dict:
    """The product's path: `LiteraturePipeline.extract(n_process=...)` (forked workers, results pickled
    back in input order)."""
    if n_proc > 1:
        # extract() collects and freezes the parent's objects before forking (so the workers' GC
        # does not copy the 1.7 GB pipeline); done here first, it is set-up and not timed
        gc.collect()
        gc.freeze()
    t0 = time.perf_counter()
    docs = n_ents = n_rel = 0
    with MemorySampler() as mem:
        for ex in _PIPE.extract(_DOCS, batch_size=64, relations=relations, n_process=n_proc):
            docs += 1
            n_ents += len(ex.entities)
            n_rel += len(ex.relations)
    secs = time.perf_counter() - t0
    return {"processes": n_proc, "stage": "full" if relations else "ner+link", "docs": docs,
            "seconds": round(secs, 2), "abstracts_per_s": round(docs / secs, 1),
            "entities": n_ents, "relations": n_rel,
            "peak_rss_total_mb": round(mem.peak_total / 2**20), "peak_rss_process_mb": round(mem.peak_single / 2**20)}


def main(argv: list[str] | None = None) -> dict:
    global _PIPE, _DOCS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--processes", default="1,2")
    ap.add_argument("--profiles", default="fast,accurate,ensemble", help="NER profiles to measure, each with its trained model (the first: the default)")
    ap.add_argument("--ner-model", default=None, help="one model folder or package instead of the profiles")
    ap.add_argument("--kb-dir", default=None)
    ap.add_argument("--relation-model", default=None)
    args = ap.parse_args(argv)

    docs = []
    c = corpora()
    for corpus in ("bc5cdr", "biored"):
        for split in (c[corpus].train, c[corpus].dev):
            docs += list(read_pubtator(split))
    _DOCS = [type(d)(d.id, d.title, d.abstract, d.year) for d in docs[: args.docs]]  # text only
    words = sum(len(d.text.split()) for d in _DOCS)

    from targetkg.nlp.config import nlp_settings, profile_folder
    from targetkg.nlp.ensemble import is_ensemble
    from targetkg.nlp.pipeline import LiteraturePipeline

    if args.ner_model:
        models = [("given", args.ner_model)]
    else:
        settings = nlp_settings()
        names = [x.strip() for x in args.profiles.split(",") if x.strip()]
        models = []
        for name in names:
            try:
                path = settings.ner_dir(profile_folder(name))
            except ValueError as exc:
                raise SystemExit(f"--profiles: {exc}")
            if (path / "config.cfg").is_file() or is_ensemble(path):
                models.append((name, str(path)))
            else:
                print(f"(profile {name}: no trained model at {path}; `targetkg nlp train-ner --profile {name}`)")
        if not models:
            raise SystemExit("no NER model to benchmark")

    procs = [int(x) for x in args.processes.split(",") if x.strip()]
    by_profile = {}
    for name, path in models:
        t0 = time.perf_counter()
        _PIPE = LiteraturePipeline.load(ner_model=path, kb_dir=args.kb_dir, relation_model=args.relation_model)
        load_s = time.perf_counter() - t0
        list(_PIPE.extract(_DOCS[:16]))  # warm-up (lazy tables, caches of the first batch)
        _PIPE.nlp.get_pipe("targetkg_linker").candidate_generator.clear_caches()  # no head start from the warm-up
        load_rss = psutil.Process().memory_info().rss
        rows = []
        for relations in (False, True):
            for p in procs:
                rows.append(run_stage(p, relations))
                _PIPE.nlp.get_pipe("targetkg_linker").candidate_generator.clear_caches()
        print(f"NER profile {name}: model {_PIPE.model_version}, load {load_s:.1f}s / {load_rss / 2**20:.0f} MB RSS")
        print(f"{'stage':<10} {'procs':>5} {'seconds':>8} {'abstracts/s':>12} {'entities':>9} {'relations':>9} "
              f"{'peak MB (all)':>14} {'peak MB (1 proc)':>17}")
        for r in rows:
            print(f"{r['stage']:<10} {r['processes']:>5} {r['seconds']:>8} {r['abstracts_per_s']:>12} {r['entities']:>9} "
                  f"{r['relations']:>9} {r['peak_rss_total_mb']:>14} {r['peak_rss_process_mb']:>17}")
        by_profile[name] = {
            "model_version": _PIPE.model_version,
            "load_seconds": round(load_s, 1),
            "load_rss_mb": round(load_rss / 2**20),
            "runs": rows,
            "ner_link_abstracts_per_s": {str(r["processes"]): r["abstracts_per_s"] for r in rows if r["stage"] == "ner+link"},
            "full_abstracts_per_s": {str(r["processes"]): r["abstracts_per_s"] for r in rows if r["stage"] == "full"},
            "peak_rss_mb": max(r["peak_rss_total_mb"] for r in rows),
        }
        _PIPE = None
        gc.unfreeze()
        gc.collect()

    first = by_profile[models[0][0]]
    load_avg = os.getloadavg()
    print(f"TargetKG literature pipeline benchmark: {len(_DOCS)} abstracts ({words} words), {os.cpu_count()} cores; "
          "target: NER + linking >= 200 abstracts/s on 2 processes")
    for name, r in by_profile.items():
        print(f"  {name:<9} NER + linking {r['ner_link_abstracts_per_s']} abstracts/s by processes, "
              f"full {r['full_abstracts_per_s']}")
    result = {
        "benchmark": "nlp",
        "abstracts": len(_DOCS),
        "words": words,
        "cores": os.cpu_count(),
        "load_average_1m": round(load_avg[0], 2),
        "profile": models[0][0],
        # the first profile's figures (the default, accurate one unless --profiles says otherwise)
        "model_version": first["model_version"],
        "runs": first["runs"],
        "ner_link_abstracts_per_s": first["ner_link_abstracts_per_s"],
        "full_abstracts_per_s": first["full_abstracts_per_s"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in by_profile.values()),
        "by_profile": by_profile,
        "target_ner_link_2proc": 200,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
