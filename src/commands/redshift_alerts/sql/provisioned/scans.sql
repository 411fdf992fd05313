-- Scan rows of provisioned clusters: stl_scan on permanent tables.
SELECT {{cluster}} AS cluster, trim(perm_table_name) AS table_name, query, rows AS rows_read,
       bytes AS bytes_read
FROM {{table stl_scan}}
WHERE {{partitions}} AND starttime >= {{since}} AND starttime < {{until}}
  AND trim(perm_table_name) NOT IN ('', 'Internal Worktable')
