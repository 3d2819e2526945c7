// Question: which drugs treat a disease, and which genes does each of them bind?
// Parameters: $disease — a Disease CURIE
// Example: :param disease => 'DOID:363'
MATCH (d:Drug)-[t:TREATS]->(dis:Disease {id: $disease})
OPTIONAL MATCH (d)-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)
RETURN d.id AS drug, d.name AS name, t.primary_knowledge_source AS source,
       collect(DISTINCT g.name)[..20] AS binds_genes
ORDER BY size(binds_genes) DESC, name;
