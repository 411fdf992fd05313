-- Scan rows of Serverless workgroups: sys_query_detail's scan steps.
SELECT {{cluster}} AS cluster, trim(table_name) AS table_name, query_id AS query,
       input_rows AS rows_read, input_bytes AS bytes_read
FROM {{table sys_query_detail}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
  AND trim(step_name) = 'scan' AND trim(table_name) <> ''
