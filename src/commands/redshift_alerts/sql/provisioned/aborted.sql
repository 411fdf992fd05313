-- Aborted rows of provisioned clusters: stl_query with aborted = 1.
SELECT {{cluster}} AS cluster, userid AS user_id, query, starttime AS started_at
FROM {{table stl_query}}
WHERE {{partitions}} AND starttime >= {{since}} AND starttime < {{until}} AND aborted = 1
