// Question: in which Bayesian-network overlays does a gene take part, with how many overlay edges, and does a curated edge back any of them?
// Parameters: $gene — a Gene CURIE
// Example: :param gene => 'NCBIGene:5187'
MATCH (o:Overlay)-[i:INCLUDES]->(g:Gene {id: $gene})
OPTIONAL MATCH (o)-[:FOR_COHORT]->(c:Cohort)
OPTIONAL MATCH (g)-[e:OVERLAY_EDGE {overlay_id: o.id}]-(x)
// curated = neither overlay/model bookkeeping, nor a prediction (PREDICTED_*), nor text-mined (as GET /overlays/{id}/edges)
OPTIONAL MATCH (g)-[k]-(x)
WHERE NOT type(k) IN ['OVERLAY_EDGE', 'INCLUDES', 'FOR_SAMPLE', 'FOR_COHORT', 'PREDICTED_FOR', 'PREDICTED_TREATS', 'PREDICTED_TARGETS', 'PREDICTED_ASSOCIATED_WITH']
  AND coalesce(k.agent_type, '') <> 'text_mining_agent'
WITH o, c, i, count(DISTINCT e) AS overlay_edges, collect(DISTINCT x.name) AS partners,
     count(DISTINCT CASE WHEN k IS NOT NULL THEN x END) AS partners_with_curated_edge
RETURN o.id AS overlay, o.kind AS kind, o.method AS method, c.name AS cohort, o.created_at AS created_at,
       overlay_edges, partners, partners_with_curated_edge,
       i.mean_delta AS knockdown_mean_delta, i.p_down AS knockdown_p_down, i.is_target AS knockdown_target
ORDER BY o.created_at DESC, overlay
LIMIT 200;
