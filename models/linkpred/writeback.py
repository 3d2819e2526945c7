"""Write predictions back into Neo4j (parameterised, batched UNWIND, one transaction per run).

Per prediction: (s)-[:PREDICTED_TREATS|PREDICTED_TARGETS|PREDICTED_ASSOCIATED_WITH {score,
probability, rank, rank_of ('subject': rank among the subject's predictions, e.g. a drug's
diseases; 'object': among the object's, e.g. a disease's genes), model, run_id, release,
agent_type: 'computational_model', knowledge_level:
'prediction', known, explanation_paths, explanation_contributions, explanation_json}]->(o), and
one (:ModelRun {id, model, params, metrics, release, created_at, epochs, relations, split, export,
code_version})-[:PREDICTED_FOR]->(s) per subject with predictions.

``known``: a *curated* edge of the predicted relation already joins the pair. Text-mined edges
(``agent_type: 'text_mining_agent'``, e.g. a BioRED Negative_Correlation loaded as TREATS from one
sentence) do not count, as everywhere in the API (service/queries.py).

Re-writing a run deletes its previous edges and writes the new ones in the same transaction
(readers see the old or the new set, never a mix); deleting a run removes only its edges and its
ModelRun node, never a curated edge.
"""

from __future__ import annotations

import json

PREDICTED_TYPE = {
    "TREATS": "PREDICTED_TREATS",
    "DIRECTLY_PHYSICALLY_INTERACTS_WITH": "PREDICTED_TARGETS",
    "GENE_ASSOCIATED_WITH_CONDITION": "PREDICTED_ASSOCIATED_WITH",
}
ALL_PREDICTED = sorted(PREDICTED_TYPE.values())
BATCH = 5000


def _label_ok(label: str) -> str:
    if not label.replace("_", "").isalnum():
        raise ValueError(f"bad label {label!r}")
    return label


def write_predictions(drv, database: str, run: dict, relation: str, rows: list[dict], s_label: str, o_label: str,
                      rank_of: str = "subject") -> int:
    ptype = PREDICTED_TYPE[relation]
    if rank_of not in ("subject", "object"):
        raise ValueError(f"rank_of must be 'subject' or 'object', not {rank_of!r}")
    s_label, o_label = _label_ok(s_label), _label_ok(o_label)
    run_props = {
        "id": run["run_id"], "model": run["model"], "params": json.dumps(run.get("params", {}), sort_keys=True),
        "metrics": json.dumps(run.get("metrics", {}), sort_keys=True), "release": run.get("release"),
        "created_at": run.get("created_at"), "split": json.dumps(run.get("split", {}), sort_keys=True),
        "code_version": run.get("code_version"),
        # what else it takes to reproduce the run: maximum epochs, target relations, the exported graph
        "epochs": run.get("epochs"), "relations": list(run.get("relations") or []),
        "export": json.dumps(run.get("export", {}), sort_keys=True, default=str),
    }
    q_create = f"""
UNWIND $rows AS row
MATCH (s:{s_label} {{id: row.s}})
MATCH (o:{o_label} {{id: row.o}})
CREATE (s)-[p:{ptype}]->(o)
SET p.score = row.score, p.probability = row.probability, p.rank = row.rank, p.rank_of = $rank_of,
    p.known = EXISTS {{ MATCH (s)-[k:`{relation}`]->(o) WHERE coalesce(k.agent_type, '') <> 'text_mining_agent' }},
    p.model = $model, p.run_id = $run_id, p.release = $release,
    p.agent_type = 'computational_model', p.knowledge_level = 'prediction',
    p.primary_knowledge_source = 'infores:targetkg', p.source_version = $code_version,
    p.source_file = 'linkpred:' + $run_id, p.source_predicate = [$relation], p.evidence = [],
    p.explanation_paths = row.paths, p.explanation_contributions = row.contribs,
    p.explanation_json = row.expl
"""
    q_link = f"""
MATCH (m:ModelRun {{id: $run_id}})
UNWIND $ids AS sid
MATCH (s:{s_label} {{id: sid}})
MERGE (m)-[:PREDICTED_FOR {{relation: $ptype}}]->(s)
"""

    def work(tx):
        _delete_edges(tx, run["run_id"], ptype)
        tx.run("MERGE (m:ModelRun {id: $p.id}) SET m += $p", p=run_props)
        n = 0
        for i in range(0, len(rows), BATCH):
            summary = tx.run(q_create, rows=rows[i:i + BATCH], model=run["model"], run_id=run["run_id"],
                             release=run.get("release"), code_version=run.get("code_version"), relation=relation,
                             rank_of=rank_of).consume()
            # the edges really created: a row whose subject or object is not in the graph writes none
            n += summary.counters.relationships_created
        ids = sorted({r["s"] for r in rows})
        for i in range(0, len(ids), BATCH):
            tx.run(q_link, ids=ids[i:i + BATCH], run_id=run["run_id"], ptype=ptype).consume()
        return n

    with drv.session(database=database) as s:
        return s.execute_write(work)


def _delete_edges(tx, run_id: str, ptype: str | None = None) -> None:
    types = [ptype] if ptype else ALL_PREDICTED
    for t in types:
        tx.run(f"MATCH ()-[p:{t}]->() WHERE p.run_id = $run_id DELETE p", run_id=run_id).consume()
    if ptype:
        tx.run("MATCH (:ModelRun {id: $run_id})-[l:PREDICTED_FOR {relation: $t}]->() DELETE l",
               run_id=run_id, t=ptype).consume()
    else:
        tx.run("MATCH (m:ModelRun {id: $run_id}) DETACH DELETE m", run_id=run_id).consume()


def delete_run_edges(drv, database: str, run_id: str) -> None:
    with drv.session(database=database) as s:
        s.execute_write(lambda tx: _delete_edges(tx, run_id, None))


EXPLANATION_QUERY = """
MATCH (s {id: $subject})-[p]->(o {id: $object})
WHERE type(p) STARTS WITH 'PREDICTED_' AND p.run_id = $run_id
RETURN type(p) AS type, p.score AS score, p.probability AS probability, p.rank AS rank, p.known AS known,
       p.explanation_paths AS paths, p.explanation_contributions AS contributions
"""
