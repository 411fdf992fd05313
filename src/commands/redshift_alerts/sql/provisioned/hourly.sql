-- Query rows of provisioned clusters: stl_query.
SELECT cluster, starttime AS started_at
FROM stl_query
WHERE {{partitions}} AND starttime >= {{since}} AND starttime < {{until}}
