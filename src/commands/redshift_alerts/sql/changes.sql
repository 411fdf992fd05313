-- Who changed what (`ddl`) or ran which utility statement (`utility`): per cluster the N most
-- recent statements with their user, the text reassembled from its chunks
-- (STATEMENT_TEXT in sql.rs).
-- Over the statement rows, one per chunk: cluster, user_id, xid, started_at, sequence, text.
SELECT cluster, started, user_id, statement
FROM (
  SELECT cluster, substr(CAST(started_at AS VARCHAR), 1, 16) AS started, user_id,
         {{statement_text}} AS statement,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY started_at DESC, xid DESC) AS place
  FROM (
{{rows}}
  ) AS text_rows
  GROUP BY cluster, user_id, xid, started_at
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
