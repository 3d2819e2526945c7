// Question: which entities match a name, synonym or id, even with a typo (full-text index entity_names)?
// Parameters: $q — a Lucene query; append ~ to a term for fuzzy matching
// Example: :param q => 'uterin~ cancr~'
CALL db.index.fulltext.queryNodes('entity_names', $q) YIELD node, score
RETURN node.id AS id, node.name AS name, labels(node)[0] AS label, score
ORDER BY score DESC
LIMIT 25;
