// Question: which edges of a patient overlay (e.g. a ΔECv subnetwork) touch a gene that a model predicts for a disease, and does curated knowledge back the edge?
// Parameters: $overlay — an Overlay id; $disease — a Disease CURIE (the predictions: PREDICTED_ASSOCIATED_WITH edges, see GET /predictions)
// Example: :param overlay => 'gse10072-delta'
//          :param disease => 'DOID:1324'
MATCH (a)-[e:OVERLAY_EDGE {overlay_id: $overlay}]->(b)
UNWIND [a, b] AS g
MATCH (g:Gene)-[p:PREDICTED_ASSOCIATED_WITH]->(:Disease {id: $disease})
WITH a, b, e, collect({gene: g.name, probability: p.probability, run: p.run_id}) AS predictions
OPTIONAL MATCH (a)-[k]-(b)
WHERE NOT type(k) IN ['OVERLAY_EDGE', 'INCLUDES', 'FOR_SAMPLE', 'FOR_COHORT', 'PREDICTED_FOR', 'PREDICTED_TREATS', 'PREDICTED_TARGETS', 'PREDICTED_ASSOCIATED_WITH']
  AND coalesce(k.agent_type, '') <> 'text_mining_agent'  // text-mined is not curated
RETURN a.id AS source, coalesce(a.name, e.source_variable) AS source_name,
       b.id AS target, coalesce(b.name, e.target_variable) AS target_name,
       e.delta_ecv AS delta_ecv, e.q_value AS q_value, e.direction AS direction, e.weight AS weight,
       predictions, collect(DISTINCT type(k)) AS curated_types
ORDER BY coalesce(e.delta_ecv, abs(e.weight)) DESC, source, target
LIMIT 500;
