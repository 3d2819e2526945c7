// Question: which drugs bind genes associated with a disease but are not (yet) known to treat it?
// Parameters: $disease — a Disease CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// A text-mined TREATS edge does not make a drug "known"; its sentence count is shown as literature_support.
// Example: :param disease => 'DOID:363'
MATCH (dis:Disease {id: $disease})<-[a:GENE_ASSOCIATED_WITH_CONDITION]-(g:Gene)<-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]-(d:Drug)
WHERE coalesce(a.agent_type, '') <> 'text_mining_agent' AND coalesce(b.agent_type, '') <> 'text_mining_agent'
  AND NOT EXISTS { (d)-[t:TREATS]->(dis) WHERE coalesce(t.agent_type, '') <> 'text_mining_agent' }
WITH dis, d, collect(DISTINCT g.name) AS disease_genes_bound, count(DISTINCT g) AS n
OPTIONAL MATCH (d)-[lit:TREATS {agent_type: 'text_mining_agent'}]->(dis)
RETURN d.id AS drug, d.name AS name, disease_genes_bound, n, coalesce(lit.evidence_count, 0) AS literature_support
ORDER BY n DESC, name
LIMIT 50;
