-- WLM rows of provisioned clusters: stl_wlm_query (times in microseconds).
SELECT cluster, service_class, total_queue_time AS queue_us, total_exec_time AS exec_us
FROM stl_wlm_query
WHERE {{partitions}}
  AND service_class_start_time >= {{since}} AND service_class_start_time < {{until}}
