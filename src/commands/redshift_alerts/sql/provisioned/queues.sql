-- WLM rows of provisioned clusters: stl_wlm_query (times in microseconds; the export dates
-- its rows by queue_start_time).
SELECT {{cluster}} AS cluster, service_class, total_queue_time AS queue_us, total_exec_time AS exec_us
FROM {{table stl_wlm_query}}
WHERE {{partitions}}
  AND queue_start_time >= {{since}} AND queue_start_time < {{until}}
