-- One query's story, part by part: its run, its WLM queue, its alerts, its text (200-character
-- chunks, joined in `sequence` order by the caller) and its plan (nodes in order).
-- Over the story rows of the one cluster: part, seq, detail.
SELECT part, seq, detail
FROM (
{{rows}}
) AS story_rows
ORDER BY CASE part WHEN 'run' THEN 0 WHEN 'queue' THEN 1 WHEN 'alert' THEN 2 WHEN 'text' THEN 3
         ELSE 4 END, seq, detail
