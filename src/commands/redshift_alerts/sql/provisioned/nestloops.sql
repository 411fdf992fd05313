-- Nested-loop rows of provisioned clusters: stl_alert_event_log, the text from stl_query.
SELECT {{cluster a}} AS cluster, a.query, a.event_time AS seen_at, trim(q.querytxt) AS statement
FROM {{table stl_alert_event_log}} AS a
LEFT JOIN {{table stl_query}} AS q
  ON {{cluster q}} = {{cluster a}} AND q.query = a.query AND {{partitions q}}
WHERE {{partitions a}} AND a.event_time >= {{since}} AND a.event_time < {{until}}
  AND a.event LIKE 'Nested Loop Join in the query plan%'
