// Question: which genes take part in a pathway or any of its sub-pathways, and which source says so?
// Parameters: $pathway — a Pathway CURIE
// Example: :param pathway => 'REACT:R-HSA-9006936'
MATCH (top:Pathway {id: $pathway})<-[:PART_OF*0..5]-(p:Pathway)<-[r:PARTICIPATES_IN]-(g:Gene)
RETURN g.id AS gene, g.name AS symbol, collect(DISTINCT p.name)[..5] AS pathways,
       collect(DISTINCT r.primary_knowledge_source) AS sources
ORDER BY symbol;
