// Question: what are the shortest evidence paths between a drug and a disease (through targets, pathways, genes)? Pick a pair without a TREATS edge to see hypotheses.
// Parameters: $drug — a Drug CURIE; $disease — a Disease CURIE
// Example: :param drug => 'DRUGBANK:DB00997'
//          :param disease => 'DOID:784'
MATCH (d:Drug {id: $drug}), (dis:Disease {id: $disease})
MATCH p = allShortestPaths((d)-[:DIRECTLY_PHYSICALLY_INTERACTS_WITH|TREATS|GENE_ASSOCIATED_WITH_CONDITION|PARTICIPATES_IN|INTERACTS_WITH|REGULATES*..4]-(dis))
RETURN [n IN nodes(p) | coalesce(n.name, n.id)] AS path, [r IN relationships(p) | type(r)] AS relationships,
       [r IN relationships(p) | r.primary_knowledge_source] AS sources, length(p) AS hops
LIMIT 25;
