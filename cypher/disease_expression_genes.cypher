// Question: which genes are up- or down-regulated in a disease, and are any of them drug targets?
// Parameters: $disease — a Disease CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// Example: :param disease => 'DOID:1612'
MATCH (dis:Disease {id: $disease})-[r:INCREASES_EXPRESSION_OF|DECREASES_EXPRESSION_OF]->(g:Gene)
RETURN g.id AS gene, g.name AS symbol,
       CASE type(r) WHEN 'INCREASES_EXPRESSION_OF' THEN 'up' ELSE 'down' END AS direction,
       r.primary_knowledge_source AS source,
       COUNT { MATCH (d:Drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g) WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
               RETURN DISTINCT d } AS binding_drugs
ORDER BY binding_drugs DESC, symbol
LIMIT 100;
