// Question: which relationship types does each source contribute, with how many edges and which knowledge level?
// Parameters: none
// Example: run as is in Neo4j Browser.
MATCH ()-[r]->()
RETURN r.primary_knowledge_source AS source, type(r) AS type, r.knowledge_level AS knowledge_level, count(*) AS edges
ORDER BY source, edges DESC;
