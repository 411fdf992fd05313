-- The N longest queries of each cluster: user, WLM service class, start, elapsed and queue time
-- in seconds, and the text reassembled from its chunks (STATEMENT_TEXT in sql.rs).
-- Over the slow rows, one per text chunk: cluster, query, user_id, service_class, started_at,
-- elapsed_s, queue_us, sequence, text.
SELECT cluster, query, user_id, class, started, elapsed_s, queue_s, statement
FROM (
  SELECT cluster, query, user_id, class, started, elapsed_s, queue_s, statement,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY elapsed_s DESC, query) AS place
  FROM (
    SELECT cluster, query, user_id, service_class AS class,
           substr(CAST(started_at AS VARCHAR), 1, 16) AS started, elapsed_s,
           round(coalesce(queue_us, 0) / 1e6, 2) AS queue_s,
           {{statement_text}} AS statement
    FROM (
{{rows}}
    ) AS slow_rows
    GROUP BY cluster, query, user_id, service_class, started_at, elapsed_s, queue_us
  ) AS assembled
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
