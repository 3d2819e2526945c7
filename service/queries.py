"""The query layer: every Cypher string the API runs, parameterised, in one module."""

from __future__ import annotations

from typing import Any

from neo4j import Driver

HEALTH = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
OPTIONAL MATCH (s:Source)
RETURN nodes, relationships, max(s.release) AS release,
       collect(s {.id, .version, .edges}) AS sources
"""


def health(drv: Driver, database: str, timeout_s: float = 5.0) -> dict[str, Any]:
    with drv.session(database=database, default_access_mode="READ") as session:
        rec = session.execute_read(lambda tx: tx.run(HEALTH, timeout=timeout_s).single())
    return rec.data()


# ---------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------
def _lookup_union(param: str = "id", var: str = "n") -> str:
    """One index seek per public label (labels come from graph/schema.yaml, never from users): the
    node whose id is `$param`, returned as `var`."""
    from targetkg.graph.schema import load_schema

    labels = load_schema().public_labels()
    return "\nUNION\n".join(f"MATCH ({var}:`{label}` {{id: ${param}}}) RETURN {var}" for label in labels)


def _read_values(drv: Driver, database: str, cypher: str, params: dict[str, Any], timeout_s: float = 30.0) -> list[dict]:
    """Like `_read` for queries that return only maps, lists and scalars: skips the driver's
    recursive `Record.data()` conversion (measured: ~15 ms for one /targets evidence row)."""
    from neo4j import unit_of_work

    @unit_of_work(timeout=timeout_s)
    def work(tx):
        result = tx.run(cypher, params)
        keys = result.keys()
        return [dict(zip(keys, rec.values())) for rec in result]

    with drv.session(database=database, default_access_mode="READ",
                     notifications_min_severity="OFF") as session:
        return session.execute_read(work)


def _read(drv: Driver, database: str, cypher: str, params: dict[str, Any], timeout_s: float = 30.0) -> list[dict]:
    from neo4j import unit_of_work

    @unit_of_work(timeout=timeout_s)
    def work(tx):
        return tx.run(cypher, params).data()

    with drv.session(database=database, default_access_mode="READ",
                     notifications_min_severity="OFF") as session:
        return session.execute_read(work)


RELEASE = "MATCH (s:Source) RETURN max(s.release) AS release"


def release(drv: Driver, database: str) -> str | None:
    rows = _read(drv, database, RELEASE, {}, 5.0)
    return rows[0]["release"] if rows else None


def graph_state(drv: Driver, database: str) -> tuple[str | None, tuple]:
    """(release, fingerprint) of the graph as it is now. The fingerprint is the bookmark Neo4j
    returns for a read transaction: it names the last committed transaction, so any write (a load,
    a model's predictions, an overlay, a property update) changes it. The API keys its
    materialised answers on it."""
    from neo4j import unit_of_work

    @unit_of_work(timeout=5.0)
    def work(tx):
        return tx.run(RELEASE).single()["release"]

    with drv.session(database=database, default_access_mode="READ",
                     notifications_min_severity="OFF") as session:
        rel = session.execute_read(work)
        return rel, (rel, *sorted(session.last_bookmarks().raw_values))


# Neo4j Browser deep links (values are inserted as quoted Cypher literals by the caller)
BROWSER_SEARCH = "CALL db.index.fulltext.queryNodes('entity_names', {q}) YIELD node, score RETURN node, score LIMIT 25"
BROWSER_ENTITY = "MATCH p=(n:`{label}` {{id: {id}}})--() RETURN p LIMIT 50"
BROWSER_DISEASE = "MATCH p=(:Gene)-[:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {{id: {id}}}) RETURN p LIMIT 50"
BROWSER_DRUG = ("MATCH p=(:Drug {{id: {id}}})-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(:Gene)"
                "-[:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease) RETURN p LIMIT 50")
BROWSER_GENE = "MATCH p=(:Gene {{id: {id}}})--(x) WHERE x:Disease OR x:Drug RETURN p LIMIT 100"


# ---------------------------------------------------------------------------------------
# /search
# ---------------------------------------------------------------------------------------
SEARCH = """
CALL db.index.fulltext.queryNodes('entity_names', $lucene, {limit: $limit})
YIELD node, score
WHERE $label IS NULL OR $label IN labels(node)
RETURN node.id AS id, node.name AS name, [l IN labels(node) WHERE l <> 'Source'][0] AS label,
       node.synonyms[..5] AS synonyms, score
ORDER BY score DESC
"""

# With a label, the hits of other labels must not use up the limit (a Gene named like many
# diseases would never be reached): the index streams its hits in score order and the label filter
# runs before LIMIT, so the first $limit hits of that label are its best ones.
SEARCH_LABEL = """
CALL db.index.fulltext.queryNodes('entity_names', $lucene)
YIELD node, score
WHERE $label IN labels(node)
RETURN node.id AS id, node.name AS name, $label AS label, node.synonyms[..5] AS synonyms, score
ORDER BY score DESC
LIMIT $limit
"""

_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def lucene_escape(term: str) -> str:
    return "".join("\\" + c if c in _LUCENE_SPECIAL else c for c in term)


def lucene_query(q: str) -> str:
    """Exact phrase (boosted), then per term: exact, prefix and fuzzy (typo-tolerant) matches."""
    import re

    q = q.strip()
    terms = [t for t in re.split(r"[\s:]+", q) if t]
    parts = [f'"{lucene_escape(q)}"^10']
    for t in terms:
        e = lucene_escape(t.lower())
        parts.append(f"{e}^4")
        if len(t) >= 2:
            parts.append(f"{e}*^2")
        if len(t) >= 4:
            parts.append(f"{e}~")
    return " OR ".join(parts)


def search(drv: Driver, database: str, q: str, limit: int = 20, label: str | None = None) -> list[dict]:
    rows: list[dict] = []
    exact = entity_node(drv, database, q.strip())
    if exact is not None:
        n = exact
        rows.append({"id": n["id"], "name": n.get("name"), "label": n["label"], "synonyms": (n.get("synonyms") or [])[:5],
                     "score": None, "match": "id"})
    query = SEARCH_LABEL if label else SEARCH
    for r in _read(drv, database, query, {"lucene": lucene_query(q), "limit": limit + 1, "label": label}):
        if any(x["id"] == r["id"] for x in rows):
            continue
        rows.append({**r, "match": "fulltext"})
    if label:
        rows = [r for r in rows if r["label"] == label]
    return rows[:limit]


# ---------------------------------------------------------------------------------------
# /entities/{curie}
# ---------------------------------------------------------------------------------------
_ENTITY = None


def entity_node(drv: Driver, database: str, curie: str) -> dict | None:
    global _ENTITY
    if _ENTITY is None:
        _ENTITY = "CALL () {\n" + _lookup_union() + "\n}\nRETURN n {.*, label: [l IN labels(n)][0], labels: labels(n)} AS n LIMIT 1"
    rows = _read(drv, database, _ENTITY, {"id": curie})
    return rows[0]["n"] if rows else None


NEIGHBOUR_SUMMARY = """
CALL () { %s }
MATCH (n)-[r]-(m)
WITH type(r) AS type, CASE WHEN startNode(r) = n THEN 'out' ELSE 'in' END AS direction,
     [l IN labels(m)][0] AS label, m, r
WITH type, direction, label, count(*) AS count,
     collect({id: m.id, name: m.name, source: r.primary_knowledge_source})[..$top] AS top
RETURN type, direction, label, count, top
ORDER BY count DESC
"""


def entity_neighbours(drv: Driver, database: str, curie: str, top: int = 5) -> list[dict]:
    return _read(drv, database, NEIGHBOUR_SUMMARY % _lookup_union(), {"id": curie, "top": top})


# ---------------------------------------------------------------------------------------
# /diseases/{curie}/targets
# ---------------------------------------------------------------------------------------
DISEASE = "MATCH (d:Disease {id: $disease}) RETURN d.id AS id, d.name AS name"

# Curated: genes associated with the disease (Hetionet DaG and any other curated source). Text-mined
# edges (agent_type text_mining_agent, see /edges) are evidence to read, not curated knowledge: every
# component below leaves them out, so "known" means curated.
DISEASE_ASSOCIATED_GENES = """
MATCH (g:Gene)-[r:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $disease})
WHERE coalesce(r.agent_type, '') <> 'text_mining_agent'
RETURN g.id AS gene, g.name AS symbol, collect(DISTINCT r.primary_knowledge_source) AS sources,
       collect(DISTINCT r.source_file) AS files
"""

# Curated: targets (bound genes) of drugs that treat the disease.
DISEASE_DRUG_TARGETS = """
MATCH (dis:Disease {id: $disease})<-[t:TREATS]-(drug:Drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)
WHERE coalesce(t.agent_type, '') <> 'text_mining_agent' AND coalesce(b.agent_type, '') <> 'text_mining_agent'
RETURN g.id AS gene, g.name AS symbol,
       collect(DISTINCT {drug: drug.id, drug_name: drug.name, treats_source: t.primary_knowledge_source,
                         binds_source: b.primary_knowledge_source}) AS drugs
"""

# Curated: genes sharing a (not too large) pathway with the disease's associated genes.
# Contribution of a pathway to gene g: (disease genes in it other than g) / pathway size.
DISEASE_PATHWAY_GENES = """
MATCH (ag:Gene)-[a:GENE_ASSOCIATED_WITH_CONDITION]->(:Disease {id: $disease})
WHERE coalesce(a.agent_type, '') <> 'text_mining_agent'
MATCH (ag)-[:PARTICIPATES_IN]->(p:Pathway)
WITH p, collect(DISTINCT ag.id) AS hits
WITH p, hits, COUNT { MATCH (p)<-[:PARTICIPATES_IN]-(m:Gene) RETURN DISTINCT m } AS size
WHERE size >= $min_size AND size <= $max_size
MATCH (p)<-[:PARTICIPATES_IN]-(g:Gene)
WITH DISTINCT g, p, size, hits
WITH g, p, size, [h IN hits WHERE h <> g.id] AS via
WHERE size(via) > 0
WITH g, p, size, via, toFloat(size(via)) / size AS w
ORDER BY w DESC
WITH g, sum(w) AS raw, collect({pathway: p.id, pathway_name: p.name, size: size, via: via[..3], weight: w})[..3] AS paths
RETURN g.id AS gene, g.name AS symbol, raw, paths
ORDER BY raw DESC LIMIT $pathway_limit
"""

# Model predictions (PREDICTED_* edges written by models/), if any exist. The calibrated
# probability comes first: raw model scores are unbounded (an R-GCN logit of 6.9) and would
# swamp the other components, which are all in [0, 1].
DISEASE_PREDICTED = """
MATCH (g:Gene)-[r]-(:Disease {id: $disease})
WHERE type(r) STARTS WITH 'PREDICTED'
RETURN g.id AS gene, g.name AS symbol, max(coalesce(r.probability, r.score, 0.5)) AS score,
       collect(DISTINCT {type: type(r), model: coalesce(r.model, r.primary_knowledge_source), run: r.run_id,
                         score: coalesce(r.probability, r.score)})[..3] AS predictions
"""


# The pathway component through the in-memory membership index (service/pathway_index.py):
# the index is loaded with these two reads and reloaded when the fingerprint changes.
PATHWAY_FINGERPRINT = """
CALL () { MATCH ()-[r:PARTICIPATES_IN]->() RETURN count(r) AS edges }
CALL () { MATCH ()-[r:GENE_ASSOCIATED_WITH_CONDITION]->() RETURN count(r) AS associations }
OPTIONAL MATCH (s:Source)
RETURN edges, associations, max(s.release) AS release, max(s.loaded_at) AS loaded_at, count(s) AS sources
"""
PATHWAY_MEMBERSHIP = """
MATCH (p:Pathway)<-[:PARTICIPATES_IN]-(g:Gene)
WITH p, collect(DISTINCT g.id) AS genes
RETURN p.id AS id, p.name AS name, genes ORDER BY id
"""
PATHWAY_GENES = """
MATCH (g:Gene) WHERE EXISTS { (g)-[:PARTICIPATES_IN]->(:Pathway) }
RETURN g.id AS id, g.name AS name ORDER BY id
"""


def pathway_fingerprint(drv: Driver, database: str) -> tuple:
    r = _read(drv, database, PATHWAY_FINGERPRINT, {})[0]
    return (r["edges"], r["associations"], r["release"], str(r["loaded_at"]), r["sources"])


DISEASE_GENE_SETS = """
MATCH (g:Gene)-[a:GENE_ASSOCIATED_WITH_CONDITION]->(d:Disease)
WHERE coalesce(a.agent_type, '') <> 'text_mining_agent'
WITH d, collect(DISTINCT g.id) AS genes
RETURN d.id AS id, d.name AS name, genes ORDER BY id
"""


def pathway_membership(drv: Driver, database: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(pathways with their genes, genes in any pathway, diseases with their associated genes)."""
    return (_read_values(drv, database, PATHWAY_MEMBERSHIP, {}, 300.0), _read_values(drv, database, PATHWAY_GENES, {}, 300.0),
            _read_values(drv, database, DISEASE_GENE_SETS, {}, 300.0))


# The three small components and the disease itself in one round trip (no row: unknown disease).
DISEASE_EVIDENCE = """
MATCH (dis:Disease {id: $disease})
CALL (dis) {
  MATCH (g:Gene)-[r:GENE_ASSOCIATED_WITH_CONDITION]->(dis)
  WHERE coalesce(r.agent_type, '') <> 'text_mining_agent'
  WITH g, collect(DISTINCT r.primary_knowledge_source) AS sources, collect(DISTINCT r.source_file) AS files
  RETURN collect({gene: g.id, symbol: g.name, sources: sources, files: files}) AS association
}
CALL (dis) {
  OPTIONAL MATCH (dis)<-[t:TREATS]-(drug:Drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)
  WHERE coalesce(t.agent_type, '') <> 'text_mining_agent' AND coalesce(b.agent_type, '') <> 'text_mining_agent'
  WITH g, collect(DISTINCT {drug: drug.id, drug_name: drug.name, treats_source: t.primary_knowledge_source,
                            binds_source: b.primary_knowledge_source}) AS drugs
  WHERE g IS NOT NULL
  RETURN collect({gene: g.id, symbol: g.name, drugs: drugs}) AS drug
}
CALL (dis) {
  OPTIONAL MATCH (g:Gene)-[r]-(dis) WHERE type(r) STARTS WITH 'PREDICTED'
  WITH g, max(coalesce(r.probability, r.score, 0.5)) AS score,
       collect(DISTINCT {type: type(r), model: coalesce(r.model, r.primary_knowledge_source), run: r.run_id,
                         score: coalesce(r.probability, r.score)})[..3] AS predictions
  WHERE g IS NOT NULL
  RETURN collect({gene: g.id, symbol: g.name, score: score, predictions: predictions}) AS predicted
}
RETURN dis.id AS id, dis.name AS name, association, drug, predicted
"""


def disease_components(drv: Driver, database: str, disease: str, min_size: int = 5, max_size: int = 300,
                       pathway_limit: int = 1000, use_index: bool = True) -> dict | None:
    """The disease and the four evidence components of /diseases/{id}/targets (None: no such disease).
    use_index=True: one Cypher round trip plus the in-memory pathway index (what the API runs);
    use_index=False: the five queries above, all in Cypher (the reference the index is tested
    against, and the bench's baseline)."""
    p = {"disease": disease, "min_size": min_size, "max_size": max_size, "pathway_limit": pathway_limit}
    if not use_index:
        found = _read(drv, database, DISEASE, p)
        if not found:
            return None
        return {"disease": found[0], "association": _read(drv, database, DISEASE_ASSOCIATED_GENES, p),
                "drug": _read(drv, database, DISEASE_DRUG_TARGETS, p),
                "pathway": _read(drv, database, DISEASE_PATHWAY_GENES, p, 60.0),
                "predicted": _read(drv, database, DISEASE_PREDICTED, p), "pathway_paths": None}
    rows = _read_values(drv, database, DISEASE_EVIDENCE, p)
    if not rows:
        return None
    row = rows[0]
    from targetkg.service.pathway_index import holder

    index = holder.get(drv, database)
    disease_genes = [r["gene"] for r in row["association"]]
    return {
        "disease": {"id": row["id"], "name": row["name"]},
        "association": row["association"],
        "drug": row["drug"],
        # paths are computed for the returned page only (ranking.attach_paths calls pathway_paths)
        "pathway": index.shared_pathway_genes(disease_genes, min_size, max_size, pathway_limit, with_paths=False),
        "predicted": row["predicted"],
        "pathway_paths": lambda genes: index.pathway_paths(disease_genes, genes, min_size, max_size),
    }


# ---------------------------------------------------------------------------------------
# /drugs/{curie}/hypotheses
# ---------------------------------------------------------------------------------------
DRUG = "MATCH (d:Drug {id: $drug}) RETURN d.id AS id, d.name AS name"

# drug -> target -> disease (the target itself is associated with the disease)
DRUG_DIRECT = """
MATCH (drug:Drug {id: $drug})-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(t:Gene)-[a:GENE_ASSOCIATED_WITH_CONDITION]->(dis:Disease)
WHERE coalesce(b.agent_type, '') <> 'text_mining_agent' AND coalesce(a.agent_type, '') <> 'text_mining_agent'
RETURN dis.id AS disease, dis.name AS disease_name, collect(DISTINCT {target: t.id, symbol: t.name}) AS targets,
       EXISTS { (drug)-[k:TREATS]->(dis) WHERE coalesce(k.agent_type, '') <> 'text_mining_agent' } AS known
"""

# drug -> target -> pathway -> disease (through the disease's associated genes in that pathway)
DRUG_PATHWAY = """
MATCH (drug:Drug {id: $drug})-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(t:Gene)-[:PARTICIPATES_IN]->(p:Pathway)
WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
WITH drug, t, p, COUNT { MATCH (p)<-[:PARTICIPATES_IN]-(m:Gene) RETURN DISTINCT m } AS size
WHERE size >= $min_size AND size <= $max_size
MATCH (p)<-[:PARTICIPATES_IN]-(g:Gene)-[a:GENE_ASSOCIATED_WITH_CONDITION]->(dis:Disease)
WHERE coalesce(a.agent_type, '') <> 'text_mining_agent'
WITH drug, dis, t, p, size, collect(DISTINCT g) AS dg
WITH drug, dis, t, p, size, [x IN dg | coalesce(x.name, x.id)] AS dgenes, toFloat(size(dg)) / size AS w
ORDER BY w DESC
WITH drug, dis, sum(w) AS raw,
     collect({target: t.id, symbol: t.name, pathway: p.id, pathway_name: p.name, size: size,
              disease_genes: dgenes[..3], weight: w})[..5] AS paths
RETURN dis.id AS disease, dis.name AS disease_name, raw, paths,
       EXISTS { (drug)-[k:TREATS]->(dis) WHERE coalesce(k.agent_type, '') <> 'text_mining_agent' } AS known
"""


# The drug, its targets and the diseases it treats, for the index-based pathway component.
DRUG_EVIDENCE = """
MATCH (drug:Drug {id: $drug})
CALL (drug) {
  OPTIONAL MATCH (drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(t:Gene) WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
  RETURN collect(DISTINCT t.id) AS targets
}
CALL (drug) { OPTIONAL MATCH (drug)-[k:TREATS]->(d:Disease) WHERE coalesce(k.agent_type, '') <> 'text_mining_agent' RETURN collect(DISTINCT d.id) AS treats }
RETURN drug.id AS id, drug.name AS name, targets, treats
"""


def drug_components(drv: Driver, database: str, drug: str, min_size: int = 5, max_size: int = 300,
                    use_index: bool = True) -> dict:
    """The components of /drugs/{id}/hypotheses. use_index=False runs the pathway component as the
    reference Cypher (DRUG_PATHWAY: 0.3-1.5 s per drug on the full warehouse)."""
    p = {"drug": drug, "min_size": min_size, "max_size": max_size}
    direct = _read_values(drv, database, DRUG_DIRECT, p)
    if not use_index:
        return {"direct": direct, "pathway": _read(drv, database, DRUG_PATHWAY, p, 60.0)}
    from targetkg.service.pathway_index import holder

    found = _read_values(drv, database, DRUG_EVIDENCE, p)
    if not found:
        return {"direct": direct, "pathway": []}
    treats = set(found[0]["treats"])
    rows = holder.get(drv, database).drug_pathway_diseases(found[0]["targets"], min_size, max_size)
    return {"direct": direct, "pathway": [{**r, "known": r["disease"] in treats} for r in rows]}


# ---------------------------------------------------------------------------------------
# /genes/{curie}/evidence
# ---------------------------------------------------------------------------------------
GENE = """
MATCH (g:Gene) WHERE g.id = $gene OR (g.name = $gene) OR $gene IN g.xrefs
RETURN g.id AS id, g.name AS name, g.full_name AS full_name ORDER BY (g.id = $gene) DESC, (g.name = $gene) DESC LIMIT 1
"""

GENE_EVIDENCE = """
MATCH (g:Gene {id: $gene})-[r]-(x)
WHERE (x:Disease OR x:Drug OR x:SmallMolecule) AND ($types IS NULL OR type(r) IN $types)
RETURN CASE WHEN x:Disease THEN 'disease' ELSE 'drug' END AS kind,
       x.id AS id, x.name AS name, type(r) AS type,
       CASE WHEN startNode(r) = g THEN 'out' ELSE 'in' END AS direction,
       type(r) STARTS WITH 'PREDICTED' AS predicted,
       r.primary_knowledge_source AS source, r.source_version AS source_version, r.source_file AS source_file,
       r.source_predicate AS source_predicate, r.knowledge_level AS knowledge_level,
       r.agent_type AS agent_type, r.evidence AS evidence, r.release AS release,
       coalesce(r.score, r.probability) AS score
ORDER BY kind, predicted, type, name
"""


def gene_evidence(drv: Driver, database: str, gene: str, types: list[str] | None = None) -> tuple[dict | None, list[dict]]:
    rows = _read(drv, database, GENE, {"gene": gene})
    if not rows:
        return None, []
    g = rows[0]
    return g, _read(drv, database, GENE_EVIDENCE, {"gene": g["id"], "types": types})


# ---------------------------------------------------------------------------------------
# /enrichment
# ---------------------------------------------------------------------------------------
RESOLVE_GENES = """
UNWIND $terms AS term
OPTIONAL MATCH (g:Gene) WHERE g.id = term OR g.name = term
WITH term, collect(g)[0] AS g
OPTIONAL MATCH (g2:Gene) WHERE g IS NULL AND (term IN g2.xrefs OR toUpper(term) = g2.name OR term IN g2.synonyms)
WITH term, g, collect(g2)[0] AS g2
WITH term, coalesce(g, g2) AS g
RETURN term, g.id AS id, g.name AS symbol
"""

# Background = every gene annotated to any pathway of the chosen sources.
ANNOTATED_GENES = """
MATCH (g:Gene) WHERE EXISTS {
  (g)-[r:PARTICIPATES_IN]->(:Pathway) WHERE $sources IS NULL OR r.primary_knowledge_source IN $sources }
RETURN g.id AS id
"""

GENE_PATHWAYS = """
UNWIND $ids AS id
MATCH (g:Gene {id: id})-[r:PARTICIPATES_IN]->(p:Pathway)
WHERE $sources IS NULL OR r.primary_knowledge_source IN $sources
RETURN p.id AS pathway, p.name AS name, collect(DISTINCT g.id) AS genes
"""

PATHWAY_MEMBERS = """
UNWIND $pathways AS pid
MATCH (p:Pathway {id: pid})<-[r:PARTICIPATES_IN]-(g:Gene)
WHERE $sources IS NULL OR r.primary_knowledge_source IN $sources
RETURN p.id AS pathway, collect(DISTINCT g.id) AS members
"""


def resolve_genes(drv: Driver, database: str, terms: list[str]) -> list[dict]:
    return _read(drv, database, RESOLVE_GENES, {"terms": terms})


def annotated_genes(drv: Driver, database: str, sources: list[str] | None) -> list[str]:
    return [r["id"] for r in _read(drv, database, ANNOTATED_GENES, {"sources": sources}, 60.0)]


def gene_pathways(drv: Driver, database: str, ids: list[str], sources: list[str] | None) -> list[dict]:
    return _read(drv, database, GENE_PATHWAYS, {"ids": ids, "sources": sources}, 60.0)


def pathway_members(drv: Driver, database: str, pathways: list[str], sources: list[str] | None) -> dict[str, list[str]]:
    rows = _read(drv, database, PATHWAY_MEMBERS, {"pathways": pathways, "sources": sources}, 60.0)
    return {r["pathway"]: r["members"] for r in rows}


# ---------------------------------------------------------------------------------------
# /runs, /runs/{id}, /predictions: model runs and their written-back PREDICTED_* edges
# ---------------------------------------------------------------------------------------
# The predicted types and the curated relation each one predicts (models/linkpred/writeback.py
# writes them); type names are interpolated from this fixed map only, values are parameters.
PREDICTED_TYPES = {
    "PREDICTED_TREATS": ("TREATS", "Drug", "Disease"),
    "PREDICTED_TARGETS": ("DIRECTLY_PHYSICALLY_INTERACTS_WITH", "Drug", "Gene"),
    "PREDICTED_ASSOCIATED_WITH": ("GENE_ASSOCIATED_WITH_CONDITION", "Gene", "Disease"),
}

RUNS = """
MATCH (m:ModelRun)
OPTIONAL MATCH (m)-[l:PREDICTED_FOR]->()
WITH m, collect(DISTINCT l.relation) AS types, count(l) AS subjects
RETURN m {.*} AS run, types, subjects
ORDER BY m.created_at DESC, m.id
"""

RUN = """
MATCH (m:ModelRun {id: $run})
RETURN m {.*} AS run,
       COUNT { (m)-[:PREDICTED_FOR]->() } AS subjects,
       COUNT { ()-[p:PREDICTED_TREATS]->() WHERE p.run_id = $run } AS PREDICTED_TREATS,
       COUNT { ()-[p:PREDICTED_TARGETS]->() WHERE p.run_id = $run } AS PREDICTED_TARGETS,
       COUNT { ()-[p:PREDICTED_ASSOCIATED_WITH]->() WHERE p.run_id = $run } AS PREDICTED_ASSOCIATED_WITH
"""


def runs(drv: Driver, database: str) -> list[dict]:
    return _read(drv, database, RUNS, {})


def run(drv: Driver, database: str, run_id: str) -> dict | None:
    rows = _read(drv, database, RUN, {"run": run_id})
    return rows[0] if rows else None


def predicted_type(relation: str) -> str | None:
    """'TREATS', 'PREDICTED_TREATS' or 'treats' -> 'PREDICTED_TREATS'; None if not predicted by any model."""
    key = relation.strip().upper()
    if key in PREDICTED_TYPES:
        return key
    for ptype, (curated, _, _) in PREDICTED_TYPES.items():
        if key == curated:
            return ptype
    return None


def _predictions_match(ptype: str, subject: str | None, object_: str | None, run_id: str | None,
                       known: bool | None, min_score: float | None) -> str:
    """MATCH ... WHERE for one predicted type, only with the filters given (so the planner can use
    the id constraints and the run_id/score indexes instead of a scan)."""
    _, s_label, o_label = PREDICTED_TYPES[ptype]
    s = f"(s:{s_label} {{id: $subject}})" if subject else "(s)"
    o = f"(o:{o_label} {{id: $object}})" if object_ else "(o)"
    where = ["coalesce(p.probability, 0.0) >= $min_probability"]
    if min_score is not None:
        where.append("p.score >= $min_score")
    if run_id:
        where.append("p.run_id = $run")
    if known is not None:
        where.append("p.known = $known")
    return f"MATCH {s}-[p:{ptype}]->{o} WHERE " + " AND ".join(where)


def predictions(drv: Driver, database: str, types: list[str], *, run_id: str | None = None,
                subject: str | None = None, object_: str | None = None, known: bool | None = None,
                min_score: float | None = None, min_probability: float = 0.0, order_by: str = "score",
                limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    """(total, rows) of written-back predictions, best first (by `score` within a run, or by
    calibrated `probability`, which is comparable across runs)."""
    params = {"run": run_id, "subject": subject, "object": object_, "known": known, "min_score": min_score,
              "min_probability": min_probability, "limit": limit, "offset": offset}
    order = "probability DESC, score DESC" if order_by == "probability" else "score DESC, probability DESC"
    parts = [_predictions_match(t, subject, object_, run_id, known, min_score) + """
RETURN s.id AS subject, s.name AS subject_name, o.id AS object, o.name AS object_name, type(p) AS type,
       p.source_predicate[0] AS relation, p.score AS score, p.probability AS probability, p.rank AS rank,
       coalesce(p.rank_of, 'subject') AS rank_of,
       p.known AS known, p.run_id AS run_id, p.model AS model, p.release AS release,
       p.explanation_paths AS explanation_paths, p.explanation_contributions AS explanation_contributions"""
             for t in types]
    rows = _read(drv, database, "CALL () {\n" + "\nUNION ALL\n".join(parts) + "\n}\nRETURN *\n"
                 f"ORDER BY {order}, subject, object, run_id SKIP $offset LIMIT $limit", params)
    counts = [_predictions_match(t, subject, object_, run_id, known, min_score) + "\nRETURN count(p) AS n" for t in types]
    total = _read(drv, database, "CALL () {\n" + "\nUNION ALL\n".join(counts) + "\n}\nRETURN sum(n) AS n", params)
    return int(total[0]["n"]), rows


# ---------------------------------------------------------------------------------------
# /edges: every edge between two entities, with provenance and, for text-mined edges, the
# evidence sentences and PMIDs behind it (nlp/: (:Evidence)-[:HAS_SUBJECT|HAS_OBJECT]->,
# -[:FROM_PUBLICATION]->(:Publication))
# ---------------------------------------------------------------------------------------
# Both ends are found by one index seek per label (`_lookup_union`); the planner then expands from
# the end with fewer relationships (a hub gene has thousands).
EDGES_BETWEEN = """
CALL () { %s }
CALL () { %s }
MATCH (x)-[r]-(y)
WHERE NOT type(r) IN ['INCLUDES', 'FOR_SAMPLE', 'FOR_COHORT', 'PREDICTED_FOR']
  AND ($types IS NULL OR type(r) IN $types)
WITH DISTINCT r, startNode(r) AS s, endNode(r) AS o
CALL (r, s, o) {
  OPTIONAL MATCH (s)<-[:HAS_SUBJECT]-(e:Evidence)-[:HAS_OBJECT]->(o)
  WHERE e.predicate = type(r) AND r.agent_type = 'text_mining_agent'
  OPTIONAL MATCH (e)-[:FROM_PUBLICATION]->(p:Publication)
  WITH e, p ORDER BY e.probability DESC, e.pmid, e.sentence_index
  WITH collect(CASE WHEN e IS NULL THEN NULL ELSE
         {pmid: e.pmid, title: p.title, year: p.year, sentence: e.sentence, probability: e.probability,
          model_version: e.model_version, relation_type: e.relation_type,
          relation_types: coalesce(e.relation_types, [e.relation_type])} END) AS sentences
  RETURN sentences[..$sentences] AS sentences, size(sentences) AS sentences_total
}
RETURN type(r) AS type, s.id AS subject, s.name AS subject_name, o.id AS object, o.name AS object_name,
       properties(r) AS props, sentences, sentences_total
ORDER BY type, subject, props.primary_knowledge_source
"""
_EDGES_BETWEEN = None


def edges_between(drv: Driver, database: str, a: str, b: str, types: list[str] | None = None,
                  sentences: int = 10) -> list[dict]:
    """Edges between `a` and `b` (either direction): type, endpoints, all properties, and the best
    `sentences` evidence sentences of a text-mined edge (with their total)."""
    global _EDGES_BETWEEN
    if _EDGES_BETWEEN is None:
        _EDGES_BETWEEN = EDGES_BETWEEN % (_lookup_union("a", "x"), _lookup_union("b", "y"))
    return _read(drv, database, _EDGES_BETWEEN, {"a": a, "b": b, "types": types, "sentences": sentences})


# ---------------------------------------------------------------------------------------
# /overlays: Bayesian-network overlays (models/bn/overlay.py) and their edges, next to the
# curated and predicted edges of the same genes
# ---------------------------------------------------------------------------------------
OVERLAYS = """
MATCH (o:Overlay)
WHERE ($overlay IS NULL OR o.id = $overlay) AND ($kind IS NULL OR o.kind = $kind)
  AND ($gene IS NULL OR EXISTS { (o)-[:INCLUDES]->(g) WHERE g.id = $gene OR g.name = $gene })
OPTIONAL MATCH (o)-[:FOR_COHORT]->(c:Cohort)
WITH o, c WHERE $cohort IS NULL OR c.id = $cohort OR c.name = $cohort
RETURN o.id AS id, o.kind AS kind, o.method AS method, o.created_at AS created_at, o.release AS release,
       c.id AS cohort, c.name AS cohort_name, o.n_nodes AS nodes, o.n_edges AS edges,
       COUNT { (o)-[:FOR_SAMPLE]->() } AS samples, o.params AS params,
       [(o)-[f:FOR_SAMPLE]->() | f.group] AS sample_groups
ORDER BY o.created_at DESC, o.id
"""

# Predicted types are interpolated from PREDICTED_TYPES only (a fixed map), values are parameters.
OVERLAY_EDGES = """
MATCH (a)-[e:OVERLAY_EDGE {overlay_id: $overlay}]->(b)
WHERE ($selected IS NULL OR e.selected = $selected)
  AND ($max_q IS NULL OR e.q_value <= $max_q)
  AND ($min_posterior IS NULL OR e.posterior >= $min_posterior)
  AND ($gene IS NULL OR a.id = $gene OR b.id = $gene OR a.name = $gene OR b.name = $gene)
CALL (a, b) {
  UNWIND [a, b] AS g
  MATCH (g:Gene)-[p:%(predicted)s]-(x)
  WHERE $disease IS NULL OR x.id = $disease
  WITH g, p, x ORDER BY coalesce(p.probability, 0.0) DESC, p.score DESC
  RETURN collect({gene: g.id, type: type(p), partner: x.id, partner_name: x.name, score: p.score,
                  probability: p.probability, rank: p.rank, run_id: p.run_id}) AS predictions
}
CALL (a, b) {
  OPTIONAL MATCH (a)-[k]-(b)
  WHERE NOT type(k) IN $not_curated AND coalesce(k.agent_type, '') <> 'text_mining_agent'
  RETURN collect(DISTINCT type(k)) AS curated_types
}
WITH a, b, e, predictions, curated_types
WHERE $touching = 'any'
   OR ($touching = 'predicted_target' AND size(predictions) > 0)
   OR ($touching = 'curated_edge' AND size(curated_types) > 0)
   OR ($touching = 'novel' AND size(curated_types) = 0)
WITH a, b, e, predictions, curated_types
ORDER BY coalesce(e.delta_ecv, abs(e.weight), e.posterior, 0.0) DESC, a.id, b.id
WITH collect({source: a.id, source_name: coalesce(a.name, e.source_variable), target: b.id,
              target_name: coalesce(b.name, e.target_variable), props: properties(e),
              predictions: predictions[..$per_edge], curated_types: curated_types}) AS rows
RETURN size(rows) AS total, rows[$offset..$offset + $limit] AS rows
""".replace("%(predicted)s", "|".join(PREDICTED_TYPES))

# Relationship types that are not curated knowledge: overlays, predictions, model bookkeeping.
# Text-mined relationships (agent_type 'text_mining_agent') are not curated either: OVERLAY_EDGES
# and cypher/overlays/*.cypher leave them out of `curated_types` by that property.
NOT_CURATED = ["OVERLAY_EDGE", "INCLUDES", "FOR_SAMPLE", "FOR_COHORT", "PREDICTED_FOR", *PREDICTED_TYPES]


def overlays(drv: Driver, database: str, kind: str | None = None, cohort: str | None = None,
             gene: str | None = None, overlay: str | None = None) -> list[dict]:
    import json

    rows = _read(drv, database, OVERLAYS, {"kind": kind, "cohort": cohort, "gene": gene, "overlay": overlay})
    for r in rows:
        try:
            r["params"] = json.loads(r["params"]) if r["params"] else {}
        except (TypeError, ValueError):
            r["params"] = {}
        # a sample's group belongs to the overlay (on FOR_SAMPLE), not to the shared Sample node
        counts: dict[str, int] = {}
        for g in r.pop("sample_groups") or []:
            if g is not None:
                counts[str(g)] = counts.get(str(g), 0) + 1
        r["groups"] = dict(sorted(counts.items()))
        enr = r["params"].get("enrichment") if isinstance(r["params"], dict) else None
        r["enrichment"] = enr if isinstance(enr, list) else []
    return rows


def overlay_edges(drv: Driver, database: str, overlay: str, *, touching: str = "any", disease: str | None = None,
                  gene: str | None = None, selected: bool | None = None, max_q: float | None = None,
                  min_posterior: float | None = None, per_edge: int = 5, limit: int = 100,
                  offset: int = 0) -> tuple[int, list[dict]]:
    """(total, page) of an overlay's edges, strongest first, each with the PREDICTED_* edges of its
    gene endpoints (to `disease` only, when given) and the curated relationship types between its
    endpoints. `touching`: any | predicted_target (an endpoint has a prediction) | curated_edge
    (a curated edge backs it) | novel (no curated edge between the two)."""
    rows = _read(drv, database, OVERLAY_EDGES, {
        "overlay": overlay, "touching": touching, "disease": disease, "gene": gene, "selected": selected,
        "max_q": max_q, "min_posterior": min_posterior, "per_edge": per_edge, "limit": limit, "offset": offset,
        "not_curated": NOT_CURATED})
    return int(rows[0]["total"]), rows[0]["rows"]


# ---------------------------------------------------------------------------------------
# POST /query: a user's Cypher, read-only (see service/readonly.py)
# ---------------------------------------------------------------------------------------
def _jsonable(v: Any) -> Any:
    from neo4j.graph import Node, Path, Relationship

    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Node):
        return {"labels": sorted(v.labels), **_jsonable(dict(v))}
    if isinstance(v, Relationship):
        return {"type": v.type, "start": v.start_node.get("id") if v.start_node else None,
                "end": v.end_node.get("id") if v.end_node else None, **_jsonable(dict(v))}
    if isinstance(v, Path):
        return {"nodes": [_jsonable(n) for n in v.nodes], "relationships": [_jsonable(r) for r in v.relationships]}
    return str(v)


def explain_query_type(drv: Driver, database: str, cypher: str, params: dict[str, Any]) -> str:
    """The plan's query type without running the query: 'r', 'rw', 'w' or 's'."""
    with drv.session(database=database, default_access_mode="READ", notifications_min_severity="OFF") as session:
        summary = session.run("EXPLAIN " + cypher, params).consume()
    return summary.query_type


def run_read_only(drv: Driver, database: str, cypher: str, params: dict[str, Any], timeout_s: float,
                  row_limit: int) -> tuple[list[str], list[dict], bool]:
    """(columns, rows, truncated): a READ transaction with a server-side timeout, always rolled back."""
    with drv.session(database=database, default_access_mode="READ", notifications_min_severity="OFF") as session:
        tx = session.begin_transaction(timeout=timeout_s)
        try:
            result = tx.run(cypher, params)
            columns = list(result.keys())
            rows, truncated = [], False
            for rec in result:
                if len(rows) >= row_limit:
                    truncated = True
                    break
                rows.append({k: _jsonable(rec[k]) for k in columns})
        finally:
            try:
                if not tx.closed():
                    tx.rollback()
            except Exception:  # noqa: BLE001, S110 - the server already ended it (timeout)
                pass
    return columns, rows, truncated
