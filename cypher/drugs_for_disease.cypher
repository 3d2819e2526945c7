// Question: which drugs treat a disease, and which genes does each of them bind?
// Parameters: $disease — a Disease CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// Example: :param disease => 'DOID:363'
MATCH (d:Drug)-[t:TREATS]->(dis:Disease {id: $disease})
WHERE coalesce(t.agent_type, '') <> 'text_mining_agent'
OPTIONAL MATCH (d)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)
WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
RETURN d.id AS drug, d.name AS name, t.primary_knowledge_source AS source,
       collect(DISTINCT g.name)[..20] AS binds_genes
ORDER BY size(binds_genes) DESC, name;
