// Question: which genes interact with or regulate a gene, in which direction, according to which source?
// Parameters: $gene — a Gene CURIE
// Example: :param gene => 'NCBIGene:7157'
MATCH (g:Gene {id: $gene})-[r:INTERACTS_WITH|REGULATES|PHYSICALLY_INTERACTS_WITH|IN_COMPLEX_WITH|COEXPRESSED_WITH]-(x:Gene)
RETURN x.id AS partner, x.name AS symbol, type(r) AS type,
       CASE WHEN startNode(r) = g THEN 'out' ELSE 'in' END AS direction,
       r.primary_knowledge_source AS source, r.source_predicate AS source_predicate
ORDER BY type, symbol
LIMIT 200;
