-- Slow rows of provisioned clusters: stl_query, its WLM row (stl_wlm_query) and its text chunks
-- (stl_querytext, exported with the query's date).
SELECT {{cluster q}} AS cluster, q.query, q.userid AS user_id, w.service_class,
       q.starttime AS started_at, date_diff('second', q.starttime, q.endtime) AS elapsed_s,
       w.total_queue_time AS queue_us, t.sequence, t.text
FROM {{table stl_query}} AS q
LEFT JOIN {{table stl_wlm_query}} AS w
  ON {{cluster w}} = {{cluster q}} AND w.query = q.query AND {{partitions w}}
LEFT JOIN {{table stl_querytext}} AS t
  ON {{cluster t}} = {{cluster q}} AND t.query = q.query AND {{partitions t}}
WHERE {{partitions q}} AND q.starttime >= {{since}} AND q.starttime < {{until}}
