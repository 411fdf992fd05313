-- Query rows of provisioned clusters: stl_query.
SELECT {{cluster}} AS cluster, starttime AS started_at
FROM {{table stl_query}}
WHERE {{partitions}} AND starttime >= {{since}} AND starttime < {{until}}
