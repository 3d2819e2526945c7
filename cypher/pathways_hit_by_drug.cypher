// Question: which pathways do a drug's targets take part in, and how many of its targets does each contain?
// Parameters: $drug — a Drug CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// Example: :param drug => 'DRUGBANK:DB00997'
MATCH (d:Drug {id: $drug})-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)-[r:PARTICIPATES_IN]->(p:Pathway)
WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
RETURN p.id AS pathway, p.name AS name, collect(DISTINCT g.name) AS targets, count(DISTINCT g) AS n,
       collect(DISTINCT r.primary_knowledge_source) AS sources
ORDER BY n DESC, name
LIMIT 50;
