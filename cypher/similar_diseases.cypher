// Question: which diseases share associated genes with a disease (Jaccard similarity of their gene sets)?
// Parameters: $disease — a Disease CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// Example: :param disease => 'DOID:363'
MATCH (a:Disease {id: $disease})<-[ra:GENE_ASSOCIATED_WITH_CONDITION]-(g:Gene)-[rb:GENE_ASSOCIATED_WITH_CONDITION]->(b:Disease)
WHERE a <> b AND coalesce(ra.agent_type, '') <> 'text_mining_agent' AND coalesce(rb.agent_type, '') <> 'text_mining_agent'
WITH a, b, count(DISTINCT g) AS shared, collect(DISTINCT g.name)[..10] AS genes
WITH a, b, shared, genes,
     COUNT { MATCH (a)<-[r:GENE_ASSOCIATED_WITH_CONDITION]-(:Gene) WHERE coalesce(r.agent_type, '') <> 'text_mining_agent' RETURN DISTINCT startNode(r) } AS na,
     COUNT { MATCH (b)<-[r:GENE_ASSOCIATED_WITH_CONDITION]-(:Gene) WHERE coalesce(r.agent_type, '') <> 'text_mining_agent' RETURN DISTINCT startNode(r) } AS nb
RETURN b.id AS disease, b.name AS name, shared, toFloat(shared) / (na + nb - shared) AS jaccard, genes
ORDER BY jaccard DESC
LIMIT 25;
