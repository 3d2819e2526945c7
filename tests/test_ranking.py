"""RankedTargets (what /targets pages from) gives exactly rank_targets' ranking, filtered and paged."""

from __future__ import annotations

import random

import pytest
from targetkg.service import ranking


def _components(seed: int) -> dict:
    """Synthetic components with many tied scores (few distinct raws), genes in several components,
    symbols shared by several genes or missing, and pathway paths only through `pathway_paths`."""
    rnd = random.Random(seed)
    genes = [f"NCBIGene:{i}" for i in range(400)]
    symbol = {g: rnd.choice([None, f"S{rnd.randrange(60)}"]) for g in genes}

    def some(n):
        return rnd.sample(genes, n)

    assoc = [{"gene": g, "symbol": symbol[g], "sources": ["hetionet"], "files": []} for g in some(40)]
    drug = [{"gene": g, "symbol": symbol[g], "drugs": [{"drug": f"DB{k}", "drug_name": f"drug {k}", "treats_source": "a",
                                                          "binds_source": rnd.choice([None, "b"])}
                                                         for k in range(rnd.randrange(1, 5))]} for g in some(30)]
    pathway = [{"gene": g, "symbol": symbol[g], "raw": rnd.choice([0.05, 0.1, 0.1, 0.25, 1.0, 2.5]), "paths": None}
               for g in some(300)]
    predicted = [{"gene": g, "symbol": symbol[g], "score": rnd.choice([None, 0.3, 0.9, 6.9]),
                  "predictions": [{"type": "PREDICTED_ASSOCIATED_WITH", "model": "rgcn", "run": "r1", "score": 0.9}]}
                 for g in some(20)]

    def pathway_paths(gs):
        return {g: [{"pathway": f"R-HSA-{k}", "pathway_name": f"pathway {k}", "size": 10 + k, "via": [f"NCBIGene:{k}"],
                     "weight": round(0.6 / (k + 1), 3)} for k in range(len(g) % 4)] for g in gs}

    return {"disease": {"id": "DOID:1", "name": "a disease"}, "association": assoc, "drug": drug, "pathway": pathway,
            "predicted": predicted, "pathway_paths": pathway_paths}


def _reference(comps, sources, min_score, include, offset, limit):
    ranked = [t for t in ranking.rank_targets(comps["disease"], comps, sources, paths=False)
              if t["score"] >= min_score and (include == "all" or (include == "known") == t["known"])]
    return len(ranked), ranking.attach_paths(ranked[offset:offset + limit])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sources", [None, ["drug"], ["pathway", "association"], ["predicted", "drug", "drug"]])
def test_pages_equal_the_full_ranking(seed, sources):
    comps = _components(seed)
    ranked = ranking.RankedTargets(comps["disease"], comps, sources)
    for min_score, include, offset, limit in [(0.0, "all", 0, 50), (0.0, "all", 0, 1000), (0.0, "known", 3, 7),
                                              (0.05, "novel", 10, 25), (0.3, "all", 0, 1000), (0.0, "novel", 280, 50),
                                              (0.0, "all", 5000, 50), (1.0, "all", 0, 50)]:
        want = _reference(comps, sources, min_score, include, offset, limit)
        assert ranked.page(min_score, include, offset, limit) == want
        assert ranked.page(min_score, include, offset, limit) == want  # kept, as served again


def test_no_candidates():
    comps = {"disease": {"id": "DOID:1", "name": None}, "association": [], "drug": [], "pathway": [], "predicted": [],
             "pathway_paths": None}
    assert ranking.RankedTargets(comps["disease"], comps).page() == (0, [])


def test_round6_matches_python_round():
    import numpy as np

    rnd = random.Random(7)
    xs = [rnd.random() for _ in range(20000)] + [k / 2e6 for k in range(2000)] + [0.0, -1e-9, 2.5e-7, 1234.5678905, 7.0]
    assert ranking._round6(np.asarray(xs)).tolist() == [round(x, 6) for x in xs]
