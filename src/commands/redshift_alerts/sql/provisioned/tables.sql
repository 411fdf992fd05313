-- Table-alert rows of provisioned clusters: stl_alert_event_log joined to the stl_scan step
-- that raised it (query, slice, segment, step); the event up to its first colon.
SELECT {{cluster a}} AS cluster, coalesce(trim(s.perm_table_name), '') AS table_name,
       trim(split_part(a.event, ':', 1)) AS event, trim(a.solution) AS solution, a.query,
       abs(date_diff('second', s.starttime, s.endtime)) AS scan_s
FROM {{table stl_alert_event_log}} AS a
LEFT JOIN {{table stl_scan}} AS s
  ON {{cluster s}} = {{cluster a}} AND s.query = a.query AND s.slice = a.slice
  AND s.segment = a.segment AND s.step = a.step AND {{partitions s}}
WHERE {{partitions a}} AND a.event_time >= {{since}} AND a.event_time < {{until}}
