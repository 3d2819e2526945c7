// Question: where does a pathway sit in the hierarchy: its ancestors and its direct sub-pathways?
// Parameters: $pathway — a Pathway CURIE
// Example: :param pathway => 'REACT:R-HSA-5693532'
MATCH (p:Pathway {id: $pathway})
OPTIONAL MATCH up = (p)-[:PART_OF*1..6]->(anc:Pathway)
WITH p, collect(DISTINCT {id: anc.id, name: anc.name, depth: length(up)}) AS ancestors
OPTIONAL MATCH (child:Pathway)-[:PART_OF]->(p)
RETURN p.id AS pathway, p.name AS name, ancestors, collect(DISTINCT {id: child.id, name: child.name}) AS children,
       COUNT { (p)<-[:PARTICIPATES_IN]-(:Gene) } AS genes;
