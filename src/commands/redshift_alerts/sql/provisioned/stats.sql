-- Plan rows of provisioned clusters: stl_explain lines naming missing statistics, in the window
-- of their query (stl_query: the export dates stl_explain by the query's starttime).
SELECT {{cluster e}} AS cluster, substr(trim(e.plannode), 1, 100) AS plan_node, e.query
FROM {{table stl_explain}} AS e
JOIN {{table stl_query}} AS q
  ON {{cluster q}} = {{cluster e}} AND q.query = e.query AND {{partitions q}}
WHERE {{partitions e}} AND q.starttime >= {{since}} AND q.starttime < {{until}}
  AND e.plannode LIKE '%missing statistics%'
