// Question: which pathways do a drug's targets take part in, and how many of its targets does each contain?
// Parameters: $drug — a Drug CURIE
// Example: :param drug => 'DRUGBANK:DB00997'
MATCH (d:Drug {id: $drug})-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)-[r:PARTICIPATES_IN]->(p:Pathway)
RETURN p.id AS pathway, p.name AS name, collect(DISTINCT g.name) AS targets, count(DISTINCT g) AS n,
       collect(DISTINCT r.primary_knowledge_source) AS sources
ORDER BY n DESC, name
LIMIT 50;
