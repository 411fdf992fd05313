-- Statement rows of provisioned clusters: stl_utilitytext, one row per 200-character chunk.
SELECT {{cluster}} AS cluster, userid AS user_id, xid, starttime AS started_at, sequence, text
FROM {{table stl_utilitytext}}
WHERE {{partitions}} AND starttime >= {{since}} AND starttime < {{until}}
