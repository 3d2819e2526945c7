// Question: which drugs bind a gene (target), and which diseases do those drugs treat?
// Parameters: $gene — a Gene CURIE
// Example: :param gene => 'NCBIGene:2099'
MATCH (d:Drug)-[b:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene {id: $gene})
OPTIONAL MATCH (d)-[:TREATS]->(dis:Disease)
RETURN d.id AS drug, d.name AS name, b.primary_knowledge_source AS source, b.source_predicate AS source_predicate,
       collect(DISTINCT dis.name) AS treats
ORDER BY size(treats) DESC, name;
