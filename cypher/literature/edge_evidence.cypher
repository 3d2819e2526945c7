// Question: which sentences and PMIDs support the text-mined edges between two entities, most probable first?
// Parameters: $a, $b — two node CURIEs (either direction)
// Example: :param a => 'DRUGBANK:DB00997'
//          :param b => 'DOID:0050700'
MATCH (x {id: $a})-[r]-(y {id: $b})
WHERE r.agent_type = 'text_mining_agent'
WITH r, startNode(r) AS s, endNode(r) AS o
MATCH (s)<-[:HAS_SUBJECT]-(e:Evidence)-[:HAS_OBJECT]->(o)
WHERE e.predicate = type(r)
MATCH (e)-[:FROM_PUBLICATION]->(p:Publication)
RETURN type(r) AS type, s.name AS subject, o.name AS object, r.evidence_count AS evidence_count,
       r.max_probability AS max_probability, p.id AS pmid, p.year AS year, p.title AS title,
       e.sentence AS sentence, e.probability AS probability, e.model_version AS model_version,
       coalesce(e.relation_types, [e.relation_type]) AS relation_types
ORDER BY type, probability DESC, pmid
LIMIT 200;
