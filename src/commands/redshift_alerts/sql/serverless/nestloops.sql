-- Nested-loop rows of Serverless workgroups: sys_query_detail's alert, the text from
-- sys_query_history.
SELECT {{cluster d}} AS cluster, d.query_id AS query, d.start_time AS seen_at,
       trim(h.query_text) AS statement
FROM {{table sys_query_detail}} AS d
LEFT JOIN {{table sys_query_history}} AS h
  ON {{cluster h}} = {{cluster d}} AND h.query_id = d.query_id AND {{partitions h}}
WHERE {{partitions d}} AND d.start_time >= {{since}} AND d.start_time < {{until}}
  AND d.alert LIKE 'Nested Loop Join in the query plan%'
