// Question: where does each edge between two entities come from (source, version, file, evidence)?
// Parameters: $a, $b — two node CURIEs (either direction)
// Example: :param a => 'NCBIGene:4086'
//          :param b => 'REACT:R-HSA-201451'
MATCH (x {id: $a})-[r]-(y {id: $b})
RETURN type(r) AS type, startNode(r).id AS subject, endNode(r).id AS object,
       r.primary_knowledge_source AS source, r.source_version AS version, r.source_file AS file,
       r.source_predicate AS source_predicate, r.knowledge_level AS knowledge_level,
       r.agent_type AS agent_type, r.evidence AS evidence, r.release AS release
ORDER BY source, type;
