-- Table-alert rows of Serverless workgroups: sys_query_detail steps with an alert (duration in
-- microseconds; Serverless names no solution).
SELECT {{cluster}} AS cluster, trim(table_name) AS table_name,
       trim(split_part(alert, ':', 1)) AS event, '' AS solution, query_id AS query,
       CAST(round(duration / 1e6) AS BIGINT) AS scan_s
FROM {{table sys_query_detail}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}} AND trim(alert) <> ''
