// Question: which diseases share associated genes with a disease (Jaccard similarity of their gene sets)?
// Parameters: $disease — a Disease CURIE
// Example: :param disease => 'DOID:363'
MATCH (a:Disease {id: $disease})<-[:GENE_ASSOCIATED_WITH_CONDITION]-(g:Gene)-[:GENE_ASSOCIATED_WITH_CONDITION]->(b:Disease)
WHERE a <> b
WITH a, b, count(DISTINCT g) AS shared, collect(DISTINCT g.name)[..10] AS genes
WITH a, b, shared, genes, COUNT { (a)<-[:GENE_ASSOCIATED_WITH_CONDITION]-(:Gene) } AS na,
     COUNT { (b)<-[:GENE_ASSOCIATED_WITH_CONDITION]-(:Gene) } AS nb
RETURN b.id AS disease, b.name AS name, shared, toFloat(shared) / (na + nb - shared) AS jaccard, genes
ORDER BY jaccard DESC
LIMIT 25;
