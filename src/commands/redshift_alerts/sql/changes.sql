-- Who changed what (`ddl`) or ran which utility statement (`utility`): per cluster the N most
-- recent statements with their user, the text reassembled from its 200-character chunks in
-- `sequence` order (the first five: more than a Slack cell shows), trimmed.
-- Over the statement rows, one per chunk: cluster, user_id, xid, started_at, sequence, text.
SELECT cluster, started, user_id, statement
FROM (
  SELECT cluster, substr(CAST(started_at AS VARCHAR), 1, 16) AS started, user_id,
         trim(coalesce(MAX(CASE WHEN sequence = 0 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 1 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 2 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 3 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 4 THEN text END), '')) AS statement,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY started_at DESC, xid DESC) AS place
  FROM (
{{rows}}
  ) AS text_rows
  GROUP BY cluster, user_id, xid, started_at
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
