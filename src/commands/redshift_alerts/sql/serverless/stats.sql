-- Plan rows of Serverless workgroups: sys_query_explain lines naming missing statistics, in the
-- window of their query (sys_query_history).
SELECT {{cluster e}} AS cluster, substr(trim(e.plan_node), 1, 100) AS plan_node,
       e.query_id AS query
FROM {{table sys_query_explain}} AS e
JOIN {{table sys_query_history}} AS h
  ON {{cluster h}} = {{cluster e}} AND h.query_id = e.query_id AND {{partitions h}}
WHERE {{partitions e}} AND h.start_time >= {{since}} AND h.start_time < {{until}}
  AND e.plan_node LIKE '%missing statistics%'
