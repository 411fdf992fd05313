-- Tables with missing statistics (Redshift's diagnostic "identifying tables with missing
-- statistics"): the plan lines that name them, per cluster, by how many queries planned
-- without statistics; the top N.
-- Over the plan rows: cluster, plan_node, query.
SELECT cluster, plan_node, queries
FROM (
  SELECT cluster, plan_node, COUNT(DISTINCT query) AS queries,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY COUNT(DISTINCT query) DESC, plan_node) AS place
  FROM (
{{rows}}
  ) AS plan_rows
  GROUP BY cluster, plan_node
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
