// Question: which genes are candidate targets for a disease, by curated association and by the drugs that treat it?
// Parameters: $disease — a Disease CURIE
// Curated only: text-mined edges (agent_type 'text_mining_agent') are left out, as in the API's ranking;
// read them with literature/edge_evidence.cypher.
// Example: :param disease => 'DOID:363'
MATCH (dis:Disease {id: $disease})
CALL (dis) {
  MATCH (g:Gene)-[r:GENE_ASSOCIATED_WITH_CONDITION]->(dis)
  WHERE coalesce(r.agent_type, '') <> 'text_mining_agent'
  RETURN g, 'associated' AS evidence, r.primary_knowledge_source AS source, null AS drug
  UNION
  MATCH (dis)<-[t:TREATS]-(d:Drug)-[r:DIRECTLY_PHYSICALLY_INTERACTS_WITH]->(g:Gene)
  WHERE coalesce(t.agent_type, '') <> 'text_mining_agent' AND coalesce(r.agent_type, '') <> 'text_mining_agent'
  RETURN g, 'target of a treating drug' AS evidence, r.primary_knowledge_source AS source, d.name AS drug
}
WITH g, collect(DISTINCT evidence) AS evidence, collect(DISTINCT source) AS sources,
     collect(DISTINCT drug)[..5] AS drugs
RETURN g.id AS gene, g.name AS symbol, evidence, size(evidence) AS kinds, drugs, sources
ORDER BY kinds DESC, size(drugs) DESC, symbol
LIMIT 100;
