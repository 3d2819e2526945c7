"""Soft structure priors from the warehouse: curated interactions between the variables' genes.

The issue's structure learning takes "optional prior edges from the warehouse (e.g. Reactome /
Pathway Commons interactions) as soft priors". `warehouse_prior_edges` reads them:

* every relationship of the given types between two of the variables' genes, or between
  their protein products (`(:Protein)-[:GENE_PRODUCT_OF]->(:Gene)`, as Reactome loads them);
* symmetric Biolink predicates (interacts with, physically interacts with, in complex with,
  coexpressed with) give a prior for both directions and the search picks one; directed ones
  (regulates, affects, precedes) only for their own direction;
* text-mined edges (``agent_type: text_mining_agent``) are left out unless asked for, and model
  predictions have their own types (PREDICTED_*), which are not accepted: a prior should be
  curated knowledge, not another model's output.

The result feeds `learn(..., prior_edges=..., prior_weight=...)`: each prior edge adds
``prior_weight`` nats to a structure's score (`search.StructurePrior`), so data can still
override it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported when the priors are read, not when the CLI starts
    import pandas as pd

DEFAULT_PRIOR_TYPES = ("REGULATES", "INTERACTS_WITH", "PHYSICALLY_INTERACTS_WITH", "IN_COMPLEX_WITH")
ALLOWED_PRIOR_TYPES = frozenset(DEFAULT_PRIOR_TYPES) | {"COEXPRESSED_WITH", "AFFECTS", "PRECEDES"}
SYMMETRIC_TYPES = frozenset({"INTERACTS_WITH", "PHYSICALLY_INTERACTS_WITH", "IN_COMPLEX_WITH", "COEXPRESSED_WITH"})

# Genes by id (index seeks), then their edges and their protein products' edges; the far end is
# mapped back to a gene the same way. Relationship types are parameters, never interpolated.
PRIOR_EDGES = """
MATCH (ga:Gene) WHERE ga.id IN $ids
CALL (ga) {
  RETURN ga AS a
  UNION
  MATCH (ga)<-[:GENE_PRODUCT_OF]-(p:Protein) RETURN p AS a
}
MATCH (a)-[r]->(b)
WHERE type(r) IN $types AND ($text_mined OR coalesce(r.agent_type, '') <> 'text_mining_agent')
CALL (b) {
  MATCH (b:Gene) RETURN b.id AS target
  UNION
  MATCH (b:Protein)-[:GENE_PRODUCT_OF]->(g:Gene) RETURN g.id AS target
}
WITH ga.id AS source, type(r) AS type, target, r
WHERE target IN $ids AND target <> source
RETURN source, type, target, count(r) AS n, collect(DISTINCT r.primary_knowledge_source) AS sources
ORDER BY source, type, target
"""


@dataclass
class PriorEdges:
    edges: list[tuple[str, str]]  # (source variable, target variable); symmetric types both ways
    support: "pd.DataFrame"  # source, type, target, n, sources (variables)
    types: tuple[str, ...] = DEFAULT_PRIOR_TYPES
    genes: int = 0  # variables that map to a gene

    def summary(self) -> dict:
        by_type = self.support.groupby("type")["n"].size().to_dict() if len(self.support) else {}
        return {"types": list(self.types), "genes": self.genes, "prior_edges": len(self.edges),
                "relationships_by_type": {k: int(v) for k, v in by_type.items()}}


def warehouse_prior_edges(driver, database: str, variable_info: "pd.DataFrame",
                          types: Sequence[str] = DEFAULT_PRIOR_TYPES, text_mined: bool = False,
                          timeout_s: float = 60.0) -> PriorEdges:
    """Prior edges between the variables from the warehouse's curated relationships.

    `variable_info`: `data.map_variables` output (columns variable, curie, label); only rows with
    label Gene take part. Read-only, parameterised, with a server-side timeout."""
    import pandas as pd
    from neo4j import unit_of_work

    types = tuple(dict.fromkeys(t.strip().upper() for t in types if t.strip()))
    bad = [t for t in types if t not in ALLOWED_PRIOR_TYPES]
    if bad or not types:
        raise ValueError(f"prior relationship types {bad or list(types)} not allowed: use some of "
                         f"{', '.join(sorted(ALLOWED_PRIOR_TYPES))}")
    genes = variable_info[variable_info["label"] == "Gene"]
    by_curie: dict[str, list[str]] = {}
    for var, curie in zip(genes["variable"], genes["curie"]):
        by_curie.setdefault(curie, []).append(str(var))
    if not by_curie:
        return PriorEdges([], pd.DataFrame(columns=["source", "type", "target", "n", "sources"]), types, 0)

    @unit_of_work(timeout=timeout_s)
    def work(tx):
        res = tx.run(PRIOR_EDGES, {"ids": sorted(by_curie), "types": list(types), "text_mined": text_mined})
        return [r.data() for r in res]

    with driver.session(database=database, default_access_mode="READ", notifications_min_severity="OFF") as s:
        rows = s.execute_read(work)
    edges: dict[tuple[str, str], None] = {}
    support = []
    for r in rows:
        for a in by_curie[r["source"]]:
            for b in by_curie[r["target"]]:
                if a == b:
                    continue
                support.append({"source": a, "type": r["type"], "target": b, "n": r["n"],
                                "sources": sorted(x for x in r["sources"] if x)})
                edges[(a, b)] = None
                if r["type"] in SYMMETRIC_TYPES:
                    edges[(b, a)] = None
    frame = pd.DataFrame(support, columns=["source", "type", "target", "n", "sources"])
    return PriorEdges(list(edges), frame, types, len(genes))
