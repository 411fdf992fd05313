-- Alert rows of provisioned clusters: stl_alert_event_log.
SELECT {{cluster}} AS cluster, trim(event) AS event, trim(solution) AS solution, query, event_time AS seen_at
FROM {{table stl_alert_event_log}}
WHERE {{partitions}} AND event_time >= {{since}} AND event_time < {{until}}
