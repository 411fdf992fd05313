-- Statement rows of provisioned clusters: stl_query (users above 1: not rdsdb), and whether the
-- query is in stl_alert_event_log.
SELECT {{cluster q}} AS cluster, trim(q.querytxt) AS statement, q.query,
       date_diff('second', q.starttime, q.endtime) AS run_s, q.starttime AS started_at,
       CASE WHEN a.query IS NULL THEN 0 ELSE 1 END AS alerted
FROM {{table stl_query}} AS q
LEFT JOIN (
  SELECT DISTINCT {{cluster}} AS cluster, query
  FROM {{table stl_alert_event_log}}
  WHERE {{partitions}} AND event_time >= {{since}} AND event_time < {{until}}
) AS a ON a.cluster = {{cluster q}} AND a.query = q.query
WHERE {{partitions q}} AND q.starttime >= {{since}} AND q.starttime < {{until}} AND q.userid > 1
