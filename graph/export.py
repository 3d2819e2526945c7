"""Export a subgraph of the warehouse for link prediction (graph/ -> models/).

A subgraph is selected by relationship types (and optionally node labels and the edges'
``primary_knowledge_source``) or by a Cypher query returning ``h, r, t`` CURIE columns
(optionally ``h_label, t_label``). The result is a :class:`Triples` object:

- ``entities``: the CURIEs, sorted (so indices are deterministic whatever Neo4j's storage order),
  ``labels``: each entity's first label; ``relations``: the relationship types, sorted;
- ``mapped``: an (E, 3) int64 array of (head, relation, tail) indices, sorted row-wise.

Reads are streamed: edges come as internal node ids (integers) in fetch-size chunks and are
packed into numpy arrays as they arrive, then one streamed pass maps the distinct node ids to
CURIEs. Memory is O(edges) integers, never a list of Python records.

``to_triples_factory`` / ``to_hetero_data`` convert to PyKEEN and torch-geometric objects with
the same index maps, so predictions map back to CURIEs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

FETCH_SIZE = 20_000
CHUNK = 200_000
NODE_CHUNK = 20_000

# The Hetionet-derived edges of the warehouse (the drug-repurposing graph of Rephetio).
HETIONET_SOURCE = "infores:hetionet"


@dataclass
class Triples:
    entities: list[str]
    labels: list[str]
    relations: list[str]
    mapped: np.ndarray  # (E, 3) int64: head, relation, tail
    meta: dict = field(default_factory=dict)

    # --- maps -------------------------------------------------------------------------
    @property
    def entity_to_id(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.entities)}

    @property
    def relation_to_id(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self.relations)}

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def __len__(self) -> int:
        return int(self.mapped.shape[0])

    def label_array(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)

    def entities_with_label(self, label: str) -> np.ndarray:
        return np.flatnonzero(self.label_array() == label)

    def relation_id(self, relation: str) -> int:
        return self.relations.index(relation)

    def of_relation(self, relation: str) -> np.ndarray:
        return self.mapped[self.mapped[:, 1] == self.relation_id(relation)]

    def counts(self) -> dict[str, int]:
        ids, n = np.unique(self.mapped[:, 1], return_counts=True)
        return {self.relations[i]: int(c) for i, c in zip(ids, n)}

    def checksum(self) -> str:
        h = hashlib.sha256()
        h.update("\n".join(self.entities).encode())
        h.update("\n".join(self.labels).encode())
        h.update("\n".join(self.relations).encode())
        h.update(np.ascontiguousarray(self.mapped).tobytes())
        return h.hexdigest()

    def labeled(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(E, 3) array of CURIE/type strings (for PyKEEN or files)."""
        rows = self.mapped if rows is None else rows
        ent = np.asarray(self.entities, dtype=object)
        rel = np.asarray(self.relations, dtype=object)
        return np.stack([ent[rows[:, 0]], rel[rows[:, 1]], ent[rows[:, 2]]], axis=1).astype(str)

    # --- persistence --------------------------------------------------------------------
    def save(self, path) -> None:
        np.savez_compressed(
            path, entities=np.asarray(self.entities, dtype=str), labels=np.asarray(self.labels, dtype=str),
            relations=np.asarray(self.relations, dtype=str), mapped=self.mapped,
        )

    @classmethod
    def load(cls, path) -> "Triples":
        z = np.load(path, allow_pickle=False)
        return cls([str(x) for x in z["entities"]], [str(x) for x in z["labels"]], [str(x) for x in z["relations"]],
                   z["mapped"].astype(np.int64))

    def with_rows(self, rows: np.ndarray) -> "Triples":
        """Same entity/relation maps, other triples (e.g. a split)."""
        return Triples(self.entities, self.labels, self.relations, rows, dict(self.meta))


def _edge_query(rel_type: str, labels: list[str] | None, source: str | None) -> str:
    where = []
    if source:
        where.append("r.primary_knowledge_source = $source")
    if labels:
        where.append("any(l IN labels(a) WHERE l IN $labels) AND any(l IN labels(b) WHERE l IN $labels)")
    w = (" WHERE " + " AND ".join(where)) if where else ""
    # Grouped by head: one record per head node with its tails' ids as a list. The driver
    # decodes a few thousand list-valued records ~15x faster than one record per edge.
    return f"MATCH (a)-[r:`{rel_type}`]->(b){w} WITH a, collect(id(b)) AS bs RETURN id(a) AS a, bs"


def export_triples(
    drv=None,
    relations: list[str] | None = None,
    labels: list[str] | None = None,
    source: str | None = HETIONET_SOURCE,
    cypher: str | None = None,
    params: dict | None = None,
    database: str | None = None,
    settings=None,
) -> Triples:
    """Export the selected subgraph (see module doc). ``relations=None``: every type present."""
    from targetkg.graph.connection import driver as get_driver
    from targetkg.settings import get_settings

    settings = settings or get_settings()
    drv = drv or get_driver(settings)
    database = database or settings.neo4j_database
    if cypher:
        return _export_cypher(drv, cypher, params or {}, database)

    with drv.session(database=database, fetch_size=1000, notifications_min_severity="OFF") as s:
        if relations is None:
            q = "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS t"
            relations = [r["t"] for r in s.run(q)]
        rel_names: list[str] = []
        heads: list[np.ndarray] = []
        tails: list[np.ndarray] = []
        rels: list[np.ndarray] = []
        for rel_type in sorted(set(relations)):
            buf_a: list[int] = []
            buf_b: list[int] = []
            parts_a: list[np.ndarray] = []
            parts_b: list[np.ndarray] = []
            res = s.run(_edge_query(rel_type, labels, source), source=source, labels=labels)
            for rec in res:
                bs = rec[1]
                buf_a.extend([rec[0]] * len(bs))
                buf_b.extend(bs)
                if len(buf_a) >= CHUNK:
                    parts_a.append(np.asarray(buf_a, dtype=np.int64))
                    parts_b.append(np.asarray(buf_b, dtype=np.int64))
                    buf_a, buf_b = [], []
            if buf_a:
                parts_a.append(np.asarray(buf_a, dtype=np.int64))
                parts_b.append(np.asarray(buf_b, dtype=np.int64))
            if not parts_a:
                continue
            rid = len(rel_names)
            rel_names.append(rel_type)
            a = np.concatenate(parts_a)
            heads.append(a)
            tails.append(np.concatenate(parts_b))
            rels.append(np.full(a.shape[0], rid, dtype=np.int64))
        if not heads:
            raise ValueError(f"no edges of types {relations} (source={source}, labels={labels})")
        h = np.concatenate(heads)
        t = np.concatenate(tails)
        r = np.concatenate(rels)
        node_ids = np.unique(np.concatenate([h, t]))
        curie = np.empty(node_ids.shape[0], dtype=object)
        label = np.empty(node_ids.shape[0], dtype=object)
        for start in range(0, node_ids.shape[0], NODE_CHUNK):
            chunk = node_ids[start:start + NODE_CHUNK]
            rec = s.run(
                "UNWIND $ids AS i MATCH (n) WHERE id(n) = i "
                "RETURN collect(i) AS i, collect(n.id) AS id, collect(labels(n)) AS labels",
                ids=chunk.tolist(),
            ).single()
            k = np.searchsorted(node_ids, np.asarray(rec["i"], dtype=np.int64))
            curie[k] = rec["id"]
            label[k] = [sorted(x)[0] if x else "" for x in rec["labels"]]
    if any(c is None for c in curie):
        raise ValueError("some exported nodes have no `id` property")
    return _finish(curie[np.searchsorted(node_ids, h)], curie[np.searchsorted(node_ids, t)], r, rel_names,
                   dict(zip(curie, label)), {"relations": sorted(set(relations)), "labels": labels, "source": source})


def _export_cypher(drv, cypher: str, params: dict, database: str) -> Triples:
    hs, rs, ts = [], [], []
    lab: dict[str, str] = {}
    with drv.session(database=database, fetch_size=FETCH_SIZE) as s:
        for rec in s.run(cypher, **params):
            hs.append(rec["h"])
            rs.append(rec["r"])
            ts.append(rec["t"])
            keys = rec.keys()
            if "h_label" in keys:
                lab.setdefault(rec["h"], rec["h_label"])
                lab.setdefault(rec["t"], rec["t_label"])
    if not hs:
        raise ValueError("the export query returned no rows")
    rel_names = sorted(set(rs))
    rmap = {n: i for i, n in enumerate(rel_names)}
    r = np.asarray([rmap[x] for x in rs], dtype=np.int64)
    ents = set(hs) | set(ts)
    labels = {e: lab.get(e, "") for e in ents}
    return _finish(np.asarray(hs, dtype=object), np.asarray(ts, dtype=object), r, rel_names, labels,
                   {"cypher": cypher})


def _finish(h_curie, t_curie, r, rel_names, labels: dict, meta: dict) -> Triples:
    # Deterministic indices: entities and relations sorted by name, triples sorted.
    rel_sorted = sorted(rel_names)
    rel_remap = np.asarray([rel_sorted.index(n) for n in rel_names], dtype=np.int64)
    r = rel_remap[r]
    entities = sorted(set(h_curie.tolist()) | set(t_curie.tolist()))
    ent_arr = np.asarray(entities, dtype=object)
    hi = np.searchsorted(ent_arr, h_curie)
    ti = np.searchsorted(ent_arr, t_curie)
    mapped = np.stack([hi, r, ti], axis=1).astype(np.int64)
    mapped = np.unique(mapped, axis=0)  # sorted, and parallel edges of one type collapse
    return Triples(entities, [labels[e] for e in entities], rel_sorted, mapped, meta)


# --- converters -----------------------------------------------------------------------------
def to_triples_factory(tr: Triples, rows: np.ndarray | None = None, create_inverse_triples: bool = False):
    """A PyKEEN TriplesFactory over ``rows`` (default: all) with the export's id maps."""
    import torch
    from pykeen.triples import TriplesFactory

    rows = tr.mapped if rows is None else rows
    return TriplesFactory(
        mapped_triples=torch.as_tensor(rows, dtype=torch.long),
        entity_to_id=tr.entity_to_id,
        relation_to_id=tr.relation_to_id,
        create_inverse_triples=create_inverse_triples,
    )


def to_hetero_data(tr: Triples, rows: np.ndarray | None = None):
    """A torch-geometric HeteroData: one node type per label, one edge type per
    (subject label, relation, object label). ``data[label].global_id`` maps local node indices
    back to export indices (and so to CURIEs: ``tr.entities[global_id]``)."""
    import torch
    from torch_geometric.data import HeteroData

    rows = tr.mapped if rows is None else rows
    lab = tr.label_array()
    data = HeteroData()
    local = np.empty(tr.num_entities, dtype=np.int64)
    for label in sorted(set(tr.labels)):
        idx = np.flatnonzero(lab == label)
        local[idx] = np.arange(idx.shape[0])
        data[label].global_id = torch.as_tensor(idx)
        data[label].num_nodes = int(idx.shape[0])
    hl, tl = lab[rows[:, 0]], lab[rows[:, 2]]
    keys = sorted({(a, tr.relations[r], b) for a, r, b in zip(hl, rows[:, 1], tl)})
    for a, rel, b in keys:
        m = (hl == a) & (tl == b) & (rows[:, 1] == tr.relation_id(rel))
        sel = rows[m]
        data[a, rel, b].edge_index = torch.as_tensor(np.stack([local[sel[:, 0]], local[sel[:, 2]]]))
    return data
