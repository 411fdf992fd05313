-- The tables scanned most per cluster: rows and MB read, by how many queries; the top N.
-- Over the scan rows: cluster, table_name, query, rows_read, bytes_read.
SELECT cluster, table_name, queries, rows_read, mb_read
FROM (
  SELECT cluster, table_name, queries, rows_read, mb_read,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY rows_read DESC, table_name) AS place
  FROM (
    SELECT cluster, table_name, COUNT(DISTINCT query) AS queries, SUM(rows_read) AS rows_read,
           CAST(round(SUM(bytes_read) / 1e6) AS BIGINT) AS mb_read
    FROM (
{{rows}}
    ) AS scan_rows
    GROUP BY cluster, table_name
  ) AS grouped
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
