// Question: what do we know about a drug: its pharmacologic classes, side effects, targets and indications?
// Parameters: $drug — a Drug CURIE
// Example: :param drug => 'DRUGBANK:DB00997'
MATCH (d:Drug {id: $drug})
RETURN d.id AS drug, d.name AS name,
       COLLECT { MATCH (d)-[:MEMBER_OF]->(c) RETURN c.name } AS classes,
       COLLECT { MATCH (d)-[:HAS_SIDE_EFFECT]->(s) RETURN s.name LIMIT 20 } AS side_effects,
       COLLECT { MATCH (d)-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g) RETURN g.name } AS targets,
       COLLECT { MATCH (d)-[:TREATS]->(x) RETURN x.name } AS treats,
       COLLECT { MATCH (d)-[:AMELIORATES]->(x) RETURN x.name } AS palliates;
