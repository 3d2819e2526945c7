// Question: what is the pathway neighbourhood of a gene: its pathways, their parent pathways, and the genes it shares them with?
// Parameters: $gene — a Gene CURIE; $max_size — ignore pathways with more genes than this
// Example: :param gene => 'NCBIGene:672'
//          :param max_size => '100'
MATCH (g:Gene {id: $gene})-[r:PARTICIPATES_IN]->(p:Pathway)
WITH g, p, r, COUNT { (p)<-[:PARTICIPATES_IN]-(:Gene) } AS size
WHERE size <= toInteger($max_size)
OPTIONAL MATCH (p)-[:PART_OF]->(parent:Pathway)
OPTIONAL MATCH (p)<-[:PARTICIPATES_IN]-(other:Gene) WHERE other <> g
RETURN p.id AS pathway, p.name AS name, r.primary_knowledge_source AS source, size,
       collect(DISTINCT parent.name) AS parents, collect(DISTINCT other.name)[..15] AS shared_with
ORDER BY size, name;
