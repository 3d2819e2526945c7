// Question: which sources are loaded, in which version, from which files, with how many edges?
// Parameters: none
// Example: run as is in Neo4j Browser.
MATCH (s:Source)
OPTIONAL MATCH ()-[r]->() WHERE r.primary_knowledge_source = s.id
RETURN s.id AS source, s.version AS version, s.files AS files, s.release AS release,
       s.loaded_at AS loaded_at, count(r) AS edges
ORDER BY source;
