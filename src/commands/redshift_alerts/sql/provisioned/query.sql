-- Story rows of a provisioned cluster's query: stl_query (the window holds its start),
-- stl_wlm_query, stl_alert_event_log, stl_querytext and stl_explain, all by query id.
SELECT 'run' AS part, 0 AS seq,
       'started ' || substr(CAST(starttime AS VARCHAR), 1, 19) || ', ran '
         || CAST(date_diff('second', starttime, endtime) AS VARCHAR) || ' s, user '
         || CAST(userid AS VARCHAR) || ', database ' || trim(database)
         || CASE WHEN aborted = 1 THEN ', aborted' ELSE '' END AS detail
FROM {{table stl_query}}
WHERE {{partitions}} AND query = {{query}} AND starttime >= {{since}} AND starttime < {{until}}
UNION ALL
SELECT 'queue', 0,
       'service class ' || CAST(service_class AS VARCHAR) || ', queued '
         || CAST(round(total_queue_time / 1e6, 2) AS VARCHAR) || ' s, executed '
         || CAST(round(total_exec_time / 1e6, 2) AS VARCHAR) || ' s, ' || trim(final_state)
FROM {{table stl_wlm_query}}
WHERE {{partitions}} AND query = {{query}}
UNION ALL
SELECT 'alert', 0, trim(event) || ': ' || trim(solution)
FROM {{table stl_alert_event_log}}
WHERE {{partitions}} AND query = {{query}}
UNION ALL
SELECT 'text', sequence, text
FROM {{table stl_querytext}}
WHERE {{partitions}} AND query = {{query}}
UNION ALL
SELECT 'plan', nodeid, plannode
FROM {{table stl_explain}}
WHERE {{partitions}} AND query = {{query}}
