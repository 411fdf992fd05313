-- Statement rows of Serverless workgroups: sys_query_history's DDL, its first 4,000 characters
-- in one piece.
SELECT {{cluster}} AS cluster, user_id, transaction_id AS xid, start_time AS started_at,
       0 AS sequence, query_text AS text
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
  AND trim(query_type) = 'DDL'
