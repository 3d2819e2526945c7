// Question: which drugs bind a gene (target), and which diseases do those drugs treat?
// Parameters: $gene — a Gene CURIE
// Curated only: text-mined TREATS, binding and association edges (agent_type 'text_mining_agent') are left out,
// as in the API; literature/edge_evidence.cypher shows them with their sentences.
// Example: :param gene => 'NCBIGene:2099'
MATCH (d:Drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene {id: $gene})
WHERE coalesce(b.agent_type, '') <> 'text_mining_agent'
OPTIONAL MATCH (d)-[t:TREATS]->(dis:Disease)
WHERE coalesce(t.agent_type, '') <> 'text_mining_agent'
RETURN d.id AS drug, d.name AS name, b.primary_knowledge_source AS source, b.source_predicate AS source_predicate,
       collect(DISTINCT dis.name) AS treats
ORDER BY size(treats) DESC, name;
