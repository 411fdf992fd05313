-- Story rows of a Serverless workgroup's query: sys_query_history (the window holds its start;
-- its run, its queue, and its text: the first 4,000 characters in one piece), the alerts of its
-- steps in sys_query_detail, and its plan in sys_query_explain, all by query id (times in
-- microseconds). https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_HISTORY.html
SELECT 'run' AS part, 0 AS seq,
       'started ' || substr(CAST(start_time AS VARCHAR), 1, 19) || ', ran '
         || CAST(CAST(round(elapsed_time / 1e6) AS BIGINT) AS VARCHAR) || ' s, user '
         || CAST(user_id AS VARCHAR) || ', database ' || trim(database_name)
         || CASE WHEN trim(status) = 'success' THEN '' ELSE ', ' || trim(status) END AS detail
FROM {{table sys_query_history}}
WHERE {{partitions}} AND query_id = {{query}} AND start_time >= {{since}} AND start_time < {{until}}
UNION ALL
SELECT 'queue', 0,
       'service class ' || CAST(service_class_id AS VARCHAR) || ', queued '
         || CAST(round(queue_time / 1e6, 2) AS VARCHAR) || ' s, executed '
         || CAST(round(execution_time / 1e6, 2) AS VARCHAR) || ' s'
FROM {{table sys_query_history}}
WHERE {{partitions}} AND query_id = {{query}} AND start_time >= {{since}} AND start_time < {{until}}
UNION ALL
SELECT DISTINCT 'alert', 0, trim(alert)
FROM {{table sys_query_detail}}
WHERE {{partitions}} AND query_id = {{query}} AND trim(alert) <> ''
UNION ALL
SELECT 'text', 0, query_text
FROM {{table sys_query_history}}
WHERE {{partitions}} AND query_id = {{query}} AND start_time >= {{since}} AND start_time < {{until}}
UNION ALL
SELECT 'plan', plan_node_id, plan_node
FROM {{table sys_query_explain}}
WHERE {{partitions}} AND query_id = {{query}}
