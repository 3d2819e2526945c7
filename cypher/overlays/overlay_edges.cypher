// Question: which edges does a Bayesian-network overlay lay over the graph (learned effect, confidence, Delta ECv, significance), strongest first?
// Parameters: $overlay — an Overlay id (see overlays_for_gene.cypher or `targetkg bn overlay list`)
// Example: :param overlay => 'gse10072-delta'
MATCH (o:Overlay {id: $overlay})
MATCH (a)-[e:OVERLAY_EDGE {overlay_id: $overlay}]->(b)
OPTIONAL MATCH (o)-[:FOR_COHORT]->(c:Cohort)
RETURN o.kind AS kind, c.name AS cohort,
       a.id AS source, coalesce(a.name, e.source_variable) AS source_name,
       b.id AS target, coalesce(b.name, e.target_variable) AS target_name,
       e.weight AS weight, e.posterior AS posterior, e.delta_ecv AS delta_ecv,
       e.p_value AS p_value, e.q_value AS q_value, e.direction AS direction, e.selected AS selected
ORDER BY coalesce(e.delta_ecv, abs(e.weight)) DESC, source, target
LIMIT 500;
