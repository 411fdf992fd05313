//! `/redshift-alerts` answers as Block Kit (pure): a header, the rows as a monospace table in
//! code-block sections within Block Kit's limits ("…and N more rows"), and a context line with
//! the data scanned, its price and the run time. Cells come from exported logs, so they are
//! cleaned of code-fence and column characters and mrkdwn-escaped.

use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;

use super::parse::Question;
use crate::outbound::athena::{QueryOutput, Stats};
use crate::outbound::slack::mrkdwn::{content, escape, plain, utf16_len, RenderError};

/// Section text limit (3,000) less the code fences.
const SECTION_BUDGET: usize = 2_990;
/// Table sections per message (Block Kit allows 50 blocks).
const MAX_TABLE_SECTIONS: usize = 12;
/// Free-text cells (event, solution) are cut to this many characters.
const TEXT_CELL: usize = 60;
/// Athena bills at least 10 MB per query, rounded up to whole MB.
const MIN_BILLED_BYTES: u64 = 10_000_000;

/// A table to show: headers, rows, which columns are numbers (right-aligned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

/// What the answer says around its table.
pub struct Framing<'a> {
    pub question: Question,
    pub scope: &'a str,
    pub stats: Stats,
    pub price_per_tb_usd: f64,
    /// Seconds since the answer was computed, when it comes from the cache.
    pub cached_secs: Option<u64>,
    /// Extra lines under the table (the chart legend).
    pub notes: Vec<String>,
}

/// The whole answer message.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn answer(table: &Table, framing: &Framing<'_>) -> Result<SlackMessageContent, RenderError> {
    let title = format!("{} · {}", framing.question.title(), framing.scope);
    let mut blocks = vec![json!({"type": "header", "text": plain(&title, 150)})];
    if table.rows.is_empty() {
        blocks.push(section("No rows: nothing matched in this window."));
    } else {
        let (sections, left_out) = code_sections(table);
        blocks.extend(sections.iter().map(|s| section(s)));
        if left_out > 0 {
            blocks.push(section(&format!("…and {left_out} more rows")));
        }
    }
    for note in &framing.notes {
        blocks.push(section(note));
    }
    let line = stats_line(framing);
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    let fallback = format!("{title}: {} rows. {line}", table.rows.len());
    content(&escape(&fallback), blocks)
}

/// A short message (errors, refusals) as one section.
///
/// # Errors
/// Only on a template bug.
pub fn notice(text: &str) -> Result<SlackMessageContent, RenderError> {
    content(text, vec![section(text)])
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// The table as code-block sections, and how many rows did not fit.
fn code_sections(table: &Table) -> (Vec<String>, usize) {
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let widths: Vec<usize> = (0..table.headers.len())
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([table.headers[i].chars().count()])
                .max()
                .unwrap_or_default()
        })
        .collect();
    let line = |row: &[String]| {
        row.iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or_default();
                if table.numeric.get(i).copied().unwrap_or(false) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_owned()
    };
    let rule = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("-+-");
    let head = format!("{}\n{rule}", line(&table.headers));
    let mut sections = Vec::new();
    let mut current = head.clone();
    for (placed, row) in cells.iter().enumerate() {
        let text = line(row);
        if utf16_len(&current) + 1 + utf16_len(&text) > SECTION_BUDGET {
            sections.push(format!("```{current}```"));
            if sections.len() == MAX_TABLE_SECTIONS {
                return (sections, cells.len() - placed);
            }
            current = head.clone();
        }
        current.push('\n');
        current.push_str(&text);
    }
    sections.push(format!("```{current}```"));
    (sections, 0)
}

/// A cell made safe for a code block in mrkdwn: one line, no fences, no column bars, escaped.
fn clean(cell: &str) -> String {
    let flat: String = cell
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '|' => '¦',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    escape(flat.trim())
}

/// Cuts free text to [`TEXT_CELL`] characters.
pub fn short(text: &str) -> String {
    if text.chars().count() <= TEXT_CELL {
        text.to_owned()
    } else {
        text.chars().take(TEXT_CELL - 1).chain(['…']).collect()
    }
}

fn stats_line(f: &Framing<'_>) -> String {
    let billed = f.stats.scanned_bytes.div_ceil(1_000_000) * 1_000_000;
    let billed = billed.max(MIN_BILLED_BYTES);
    #[expect(clippy::cast_precision_loss, reason = "bytes far below 2^52")]
    let cost = billed as f64 / 1e12 * f.price_per_tb_usd;
    #[expect(clippy::cast_precision_loss, reason = "milliseconds far below 2^52")]
    let secs = f.stats.engine_ms as f64 / 1000.0;
    let mut line = format!(
        "Scanned {} · ≈ ${cost:.4} at ${:.2}/TB (10 MB minimum) · ran {secs:.2} s",
        bytes(f.stats.scanned_bytes),
        f.price_per_tb_usd,
    );
    if let Some(age) = f.cached_secs {
        line.push_str(&format!(" · cached answer, {age} s old"));
    }
    line
}

/// Bytes in decimal units, as Athena bills them.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Reads rows by column name.
pub struct Columns<'a> {
    output: &'a QueryOutput,
}

impl<'a> Columns<'a> {
    pub fn new(output: &'a QueryOutput) -> Self {
        Self { output }
    }

    /// The value of `name` in `row`, empty for NULL or a missing column.
    pub fn get(&self, row: &'a [Option<String>], name: &str) -> &'a str {
        self.output
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i))
            .and_then(Option::as_deref)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing() -> Framing<'static> {
        Framing {
            question: Question::Queues,
            scope: "3 clusters · last 24h",
            stats: Stats {
                scanned_bytes: 25_300_000,
                engine_ms: 420,
            },
            price_per_tb_usd: 5.0,
            cached_secs: None,
            notes: Vec::new(),
        }
    }

    fn big_table(rows: usize) -> Table {
        Table {
            headers: vec!["cluster".into(), "event".into(), "count".into()],
            numeric: vec![false, false, true],
            rows: (0..rows)
                .map(|i| vec![format!("cluster-{i}"), "x".repeat(50), i.to_string()])
                .collect(),
        }
    }

    fn blocks(c: &SlackMessageContent) -> Vec<Value> {
        serde_json::to_value(c.blocks.clone().unwrap_or_default())
            .expect("json")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_big_answer_stays_within_block_kit_limits_and_says_what_is_left_out() {
        let msg = answer(&big_table(2000), &framing()).expect("renders");
        let blocks = blocks(&msg);
        assert!(blocks.len() <= 50);
        for b in &blocks {
            let text = b["text"]["text"].as_str().unwrap_or_default();
            assert!(utf16_len(text) <= 3000, "{}", text.len());
        }
        let last_table = blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .find(|t| t.starts_with("…and "))
            .expect("a left-out line");
        let shown: usize = blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .filter(|t| t.starts_with("```"))
            .map(|t| t.lines().count() - 2)
            .sum();
        assert_eq!(last_table, format!("…and {} more rows", 2000 - shown));
    }

    #[test]
    fn the_stats_line_shows_scan_price_and_time() {
        let msg = answer(&big_table(1), &framing()).expect("renders");
        let text = serde_json::to_string(&blocks(&msg)).expect("json");
        assert!(
            text.contains("Scanned 25.3 MB · ≈ $0.0001 at $5.00/TB (10 MB minimum) · ran 0.42 s"),
            "{text}"
        );
    }

    #[test]
    fn cells_cannot_break_out_of_the_code_block_or_inject_mrkdwn() {
        let table = Table {
            headers: vec!["event".into()],
            numeric: vec![false],
            rows: vec![vec!["```<!channel> a|b\nc".into()]],
        };
        let msg = answer(&table, &framing()).expect("renders");
        let text = blocks(&msg)[1]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(text.matches("```").count(), 2, "{text}");
        assert!(text.contains("'''&lt;!channel&gt; a¦b c"), "{text}");
    }

    #[test]
    fn bytes_are_shown_in_decimal_units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(2_000_000_000_000), "2.0 TB");
    }
}
