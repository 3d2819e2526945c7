// Question: what do we know about a drug: its pharmacologic classes, side effects, targets and indications?
// Parameters: $drug — a Drug CURIE
// Curated only for targets and indications: text-mined binding and TREATS edges (agent_type 'text_mining_agent') are
// left out, as in the API (side effects are Hetionet's SIDER edges, kept). literature/edge_evidence.cypher shows them.
// Example: :param drug => 'DRUGBANK:DB00997'
MATCH (d:Drug {id: $drug})
RETURN d.id AS drug, d.name AS name,
       COLLECT { MATCH (d)-[:MEMBER_OF]->(c) RETURN c.name } AS classes,
       COLLECT { MATCH (d)-[:HAS_SIDE_EFFECT]->(s) RETURN s.name LIMIT 20 } AS side_effects,
       COLLECT { MATCH (d)-[r:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g) WHERE coalesce(r.agent_type, '') <> 'text_mining_agent'
                 RETURN g.name } AS targets,
       COLLECT { MATCH (d)-[r:TREATS]->(x) WHERE coalesce(r.agent_type, '') <> 'text_mining_agent' RETURN x.name } AS treats,
       COLLECT { MATCH (d)-[:AMELIORATES]->(x) RETURN x.name } AS palliates;
