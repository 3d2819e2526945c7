// Question: which drugs bind genes associated with a disease but are not (yet) known to treat it?
// Parameters: $disease — a Disease CURIE
// Example: :param disease => 'DOID:363'
MATCH (dis:Disease {id: $disease})<-[:GENE_ASSOCIATED_WITH_CONDITION]-(g:Gene)<-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH]-(d:Drug)
WHERE NOT (d)-[:TREATS]->(dis)
RETURN d.id AS drug, d.name AS name, collect(DISTINCT g.name) AS disease_genes_bound, count(DISTINCT g) AS n
ORDER BY n DESC, name
LIMIT 50;
