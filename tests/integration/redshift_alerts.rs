//! `/redshift-alerts` end to end: the real bot over Socket Mode, Athena on ministack running the
//! SQL in DuckDB over Glue tables and Hive partitions of the fixtures (three provisioned clusters
//! and one Serverless workgroup, two days plus an older one) in the AWS sample's layout (Parquet,
//! `ext_` tables, `clusterid`/`startdate`; one test on text files under other names), answers
//! read back from the Slack emulator row by row. The clock is pinned to 2026-11-03 23:30 UTC.

use emulators::redshift_demo::Layout;
use emulators::slack::Message;
use emulators::testing::eventually;

use crate::support::redshift::{Exports, CLOCK};
use crate::support::{Bot, Options, ALICE, BOB, CHANNEL, DEADLINE, MALLORY};

async fn spawn(exports: &Exports, extra: &[(&str, &str)]) -> Bot {
    let mut env = exports.env();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| (format!("CHATOPS__REDSHIFT_ALERTS__{k}"), (*v).to_owned())),
    );
    Bot::spawn(Options {
        env,
        clock: Some(CLOCK),
        ..Options::default()
    })
    .await
}

/// Sends the command as `user` and returns the ack's text (always ephemeral).
async fn ask(bot: &Bot, user: &str, text: &str) -> String {
    let envelope = bot
        .slack
        .slash_command(CHANNEL, user, "/redshift-alerts", text)
        .await
        .expect("delivered");
    let ack = envelope.acked(DEADLINE).await.expect("acked");
    let payload = ack.payload.expect("the ack carries a reply");
    assert_eq!(payload["response_type"], "ephemeral", "{payload}");
    payload["text"].as_str().unwrap_or_default().to_owned()
}

/// Bot messages in the channel whose fallback text starts with `title`.
fn answers(bot: &Bot, title: &str) -> Vec<Message> {
    bot.slack
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.text.as_deref().is_some_and(|t| t.starts_with(title)))
        .collect()
}

async fn wait_for_answer(bot: &Bot, title: &str, nth: usize) -> Message {
    eventually(DEADLINE, &format!("answer {nth} to {title:?}"), || async {
        answers(bot, title).into_iter().nth(nth)
    })
    .await
}

fn section_texts(m: &Message) -> Vec<String> {
    m.blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts that `m` has a section reading exactly `text`.
fn assert_section(m: &Message, text: &str) {
    let texts = section_texts(m);
    assert!(texts.iter().any(|t| t == text), "{text:?} in {texts:#?}");
}

fn context(m: &Message) -> String {
    m.blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "context")
        .map(|b| {
            b["elements"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The table's header and rows, cells trimmed.
fn table(m: &Message) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for text in section_texts(m).iter().filter(|t| t.starts_with("```")) {
        let mut lines = text.trim_matches('`').lines();
        // Cells never hold `|` (the renderer replaces it), so it only separates columns.
        let split = |l: &str| l.split('|').map(|c| c.trim().to_owned()).collect();
        header = lines.next().map(split).unwrap_or_default();
        lines.next();
        rows.extend(lines.map(split));
    }
    (header, rows)
}

fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected
        .iter()
        .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
        .collect()
}

#[tokio::test]
async fn alerts_rank_events_per_cluster_across_both_sources_row_by_row() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    let ack = ask(&bot, ALICE, "all since 2d top 2").await;
    assert!(
        ack.starts_with("Running… Top alert events for 4 clusters, last 2d"),
        "{ack}"
    );
    let answer = wait_for_answer(&bot, "Top alert events", 0).await;

    let (header, got) = table(&answer);
    assert_eq!(
        header,
        [
            "cluster",
            "count",
            "queries",
            "last seen (UTC)",
            "event",
            "solution"
        ]
    );
    assert_eq!(
        got,
        rows(&[
            &[
                "adhoc-serverless",
                "2",
                "2",
                "2026-11-03 09:00",
                "Missing query planner statistics",
                ""
            ],
            &[
                "adhoc-serverless",
                "2",
                "2",
                "2026-11-03 08:30",
                "Nested Loop Join in the query plan",
                ""
            ],
            &[
                "analytics-prod",
                "5",
                "4",
                "2026-11-03 14:30",
                "Missing query planner statistics",
                "Run the ANALYZE command"
            ],
            &[
                "analytics-prod",
                "2",
                "2",
                "2026-11-03 16:45",
                "Nested Loop Join in the query plan",
                "Review the join predicates to avoid Cartesian products"
            ],
            &[
                "etl-prod",
                "4",
                "4",
                "2026-11-03 04:00",
                "Scanned a large number of deleted rows",
                "Run the VACUUM command to reclaim deleted space"
            ],
            &[
                "etl-prod",
                "2",
                "1",
                "2026-11-03 05:01",
                "Nested Loop Join in the query plan",
                "Review the join predicates to avoid Cartesian products"
            ],
            &[
                "reporting-dev",
                "1",
                "1",
                "2026-11-03 22:15",
                "Very selective query filter",
                "Review the sort key to enable range restricted scans"
            ],
        ])
    );
    // Freshness per cluster from the alert log (sys_query_detail for Serverless: its newest row
    // has no alert); all but reporting-dev are over 2 hours old at 23:30.
    assert_section(&answer, "Data up to (UTC): adhoc-serverless 2026-11-03 09:10, analytics-prod 2026-11-03 18:00, etl-prod 2026-11-03 05:01, reporting-dev 2026-11-03 22:15.");
    assert_section(&answer, ":warning: Export older than 2 h: adhoc-serverless (14 h 20 min old), analytics-prod (5 h 30 min old), etl-prod (18 h 29 min old). Check the cluster's export job and crawler.");
    let stats = context(&answer);
    assert!(stats.starts_with("Scanned "), "{stats}");
    assert!(
        stats.contains(" at $5.00/TB (10 MB minimum) · ran "),
        "{stats}"
    );

    // One query, in the configured workgroup, pruning partitions by cluster and date.
    let queries = exports.queries().await;
    assert_eq!(queries.len(), 1, "{queries:?}");
    let sql = &queries[0];
    assert!(
        sql.contains("FROM ext_stl_alert_event_log") && sql.contains("FROM ext_sys_query_detail")
    );
    assert!(
        sql.contains("\"clusterid\" IN ('analytics-prod', 'etl-prod', 'reporting-dev')"),
        "{sql}"
    );
    assert!(
        sql.contains("\"clusterid\" IN ('adhoc-serverless')"),
        "{sql}"
    );
    assert_eq!(
        sql.matches("\"startdate\" BETWEEN '2026-11-02' AND '2026-11-04'")
            .count(),
        2,
        "{sql}"
    );
}

#[tokio::test]
async fn the_default_window_is_the_last_day_and_named_clusters_narrow_it() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    ask(&bot, ALICE, "analytics-prod").await;
    let answer = wait_for_answer(&bot, "Top alert events", 0).await;

    let (_, got) = table(&answer);
    let short: Vec<(String, String, String)> = got
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        short,
        [
            ("analytics-prod", "3", "Missing query planner statistics"),
            ("analytics-prod", "1", "Nested Loop Join in the query plan"),
            (
                "analytics-prod",
                "1",
                "Scanned a large number of deleted rows"
            ),
            ("analytics-prod", "1", "Very selective query filter"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
}

#[tokio::test]
async fn hourly_answers_with_a_table_and_a_png_with_one_series_per_cluster() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    ask(&bot, ALICE, "hourly analytics-prod etl-prod reporting-dev").await;
    let answer = wait_for_answer(&bot, "Queries per hour", 0).await;

    let (header, got) = table(&answer);
    assert_eq!(
        header,
        ["hour (UTC)", "analytics-prod", "etl-prod", "reporting-dev"]
    );
    assert_eq!(
        got,
        rows(&[
            &["11-03 05:00", "0", "1", "0"],
            &["11-03 09:00", "3", "1", "0"],
            &["11-03 10:00", "1", "0", "1"],
            &["11-03 14:00", "1", "0", "0"],
            &["11-03 16:00", "1", "0", "0"],
            &["11-03 22:00", "0", "2", "0"],
        ])
    );

    let file = eventually(DEADLINE, "the chart upload", || async {
        bot.slack.files(CHANNEL).into_iter().next()
    })
    .await;
    assert_eq!(file.filename, "redshift-hourly.png");
    assert!(file
        .initial_comment
        .as_deref()
        .is_some_and(|c| c.starts_with("Queries per hour")));
    let (width, height, pixels) = decode_png(&file.bytes);
    assert_eq!(
        (width, height),
        (
            chatops::commands::redshift_alerts::chart::WIDTH,
            chatops::commands::redshift_alerts::chart::HEIGHT
        )
    );
    let drawn: Vec<&str> = chatops::commands::redshift_alerts::chart::PALETTE
        .iter()
        .filter(|(c, _)| pixels.chunks(3).any(|p| p == [c.0, c.1, c.2]))
        .map(|(_, name)| *name)
        .collect();
    assert_eq!(drawn, ["blue", "orange", "green"], "one series per cluster");
    keep_for_the_readme("redshift-alerts-hourly.png", &file.bytes);
}

/// Writes a chart the bot uploaded to `docs/`, where the README shows it.
fn keep_for_the_readme(name: &str, png: &[u8]) {
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
        png,
    )
    .expect("keep the chart for the README");
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a valid PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (info.width, info.height, pixels)
}

#[tokio::test]
async fn queues_show_wlm_percentiles_per_service_class_for_both_sources() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    ask(&bot, ALICE, "queues etl-prod adhoc-serverless since 2d").await;
    let answer = wait_for_answer(&bot, "WLM queues", 0).await;

    assert_queue_table(&answer);
    let file = eventually(DEADLINE, "the queue chart", || async {
        bot.slack.files(CHANNEL).into_iter().next()
    })
    .await;
    assert_eq!(file.filename, "redshift-queues.png");
    assert_eq!(
        file.initial_comment.as_deref(),
        Some("WLM queues · 2 clusters · last 2d")
    );
    let (_, _, pixels) = decode_png(&file.bytes);
    let drawn = chatops::commands::redshift_alerts::chart::PALETTE[..2]
        .iter()
        .all(|(c, _)| pixels.chunks(3).filter(|p| *p == [c.0, c.1, c.2]).count() > 100);
    assert!(drawn, "queue wait and execution bars");
    keep_for_the_readme("redshift-alerts-queues.png", &file.bytes);
}

/// The answer to `queues etl-prod adhoc-serverless since 2d` over the fixtures.
fn assert_queue_table(answer: &Message) {
    let (header, got) = table(answer);
    assert_eq!(
        header.join(","),
        "cluster,class,queries,queue p50 s,p95,max,exec p50 s,p95,max"
    );
    assert_eq!(
        got,
        rows(&[
            &[
                "adhoc-serverless",
                "100",
                "3",
                "0.10",
                "0.20",
                "0.20",
                "2.00",
                "3.00",
                "3.00"
            ],
            &["etl-prod", "6", "4", "1.00", "10.00", "10.00", "1.50", "4.00", "4.00"],
            &["etl-prod", "100", "1", "0.25", "0.25", "0.25", "0.75", "0.75", "0.75"],
        ])
    );
}

#[tokio::test]
async fn an_export_of_text_files_under_other_names_answers_the_same_through_its_layout() {
    let exports = Exports::create_in(Layout::text()).await;
    let bot = spawn(&exports, &[]).await;

    ask(&bot, ALICE, "queues etl-prod adhoc-serverless since 2d").await;
    let answer = wait_for_answer(&bot, "WLM queues", 0).await;

    assert_queue_table(&answer);
    let queries = exports.queries().await;
    assert!(
        queries[0].contains("FROM stl_wlm_query")
            && queries[0].contains("\"cluster\" IN ('etl-prod') AND \"date\" BETWEEN"),
        "{queries:?}"
    );
}

#[tokio::test]
async fn help_lists_the_usage_and_the_clusters_from_parameter_store() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    let help = ask(&bot, ALICE, "help").await;
    assert!(help.contains("/redshift-alerts hourly"), "{help}");
    assert!(
        help.contains(
            "Known clusters (from Parameter Store): adhoc-serverless, analytics-prod, etl-prod, reporting-dev."
        ),
        "{help}"
    );
    let fallback_only = ask(&bot, ALICE, "legacy-prod").await;
    assert!(
        fallback_only.starts_with("Unknown cluster(s): legacy-prod."),
        "{fallback_only}"
    );
    assert!(exports.queries().await.is_empty());
}

#[tokio::test]
async fn without_the_parameter_the_configured_clusters_are_used() {
    let exports = Exports::create().await;
    let missing = format!("{}.missing", exports.names.cluster_list_parameter);
    let bot = spawn(&exports, &[("CLUSTER_LIST_PARAMETER", &missing)]).await;

    let help = ask(&bot, ALICE, "help").await;
    assert!(
        help.contains("Known clusters (from configuration): legacy-prod."),
        "{help}"
    );
}

#[tokio::test]
async fn hostile_input_gets_a_usage_reply_and_starts_no_query() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;
    let long = "a".repeat(4096);
    let many = (0..21)
        .map(|i| format!("cluster-{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let hostile = [
        "nestedloops all",
        "slow ghost-cluster",
        "statements since 31d",
        "scans top 21",
        "aborted top 3",
        "query etl-prod 0",
        "query etl-prod -2002",
        "query etl-prod 2002x",
        "query disabled-cluster 2002",
        many.as_str(),
        "etl-prod' OR '1'='1",
        "etl-prod'; DROP TABLE stl_query; --",
        "etl-prod -- comment",
        "etl-prod /* x */",
        "etl-prod\\",
        "\"etl-prod\"",
        "еtl-prod",
        "etl\u{2011}prod",
        "since 7d; SELECT 1",
        "since 1000000h",
        "top 99999999999999999999",
        "hourly since 2d top 5",
        "ghost-cluster",
        long.as_str(),
    ];
    for text in hostile {
        let reply = ask(&bot, MALLORY, text).await;
        assert!(reply.contains("Usage:"), "{text}: {reply}");
        assert!(!reply.contains("DROP") && !reply.contains("'1'"), "{reply}");
    }
    assert!(exports.queries().await.is_empty(), "no query was started");
    assert!(bot.slack.messages(CHANNEL).is_empty(), "nothing was posted");
}

#[tokio::test]
async fn the_same_question_again_is_answered_from_the_cache() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    ask(&bot, ALICE, "queues etl-prod since 2d").await;
    let first = wait_for_answer(&bot, "WLM queues", 0).await;
    assert!(!context(&first).contains("cached"));

    let ack = ask(&bot, BOB, "queues  ETL-PROD since 48h").await;
    assert_eq!(ack, "Answering from the cache…");
    let second = wait_for_answer(&bot, "WLM queues", 1).await;
    assert_eq!(table(&second), table(&first));
    assert!(
        context(&second).contains("· cached answer, "),
        "{}",
        context(&second)
    );
    assert_eq!(
        exports.queries().await.len(),
        1,
        "the cache started no query"
    );
}

#[tokio::test]
async fn queries_beyond_the_in_flight_limits_get_a_busy_reply() {
    let exports = Exports::create().await;
    let bot = spawn(
        &exports,
        &[
            ("MAX_IN_FLIGHT_PER_USER", "1"),
            ("MAX_IN_FLIGHT_TOTAL", "2"),
            ("CACHE_SECS", "0"),
        ],
    )
    .await;

    // Each running query holds its slot at least until its first status poll (250 ms), far
    // longer than the next command takes to arrive.
    let first = ask(&bot, ALICE, "hourly").await;
    let same_user = ask(&bot, ALICE, "queues").await;
    let other_user = ask(&bot, BOB, "queues").await;
    let third = ask(&bot, MALLORY, "queues").await;

    assert!(first.starts_with("Running…"), "{first}");
    assert!(same_user.starts_with("Busy:"), "{same_user}");
    assert!(other_user.starts_with("Running…"), "{other_user}");
    assert!(third.starts_with("Busy:"), "{third}");
    wait_for_answer(&bot, "WLM queues", 0).await;
    wait_for_answer(&bot, "Queries per hour", 0).await;
    assert_eq!(exports.queries().await.len(), 2);

    let later = ask(&bot, MALLORY, "queues").await;
    assert!(later.starts_with("Running…"), "slots come back: {later}");
}

#[tokio::test]
async fn a_query_past_its_deadline_is_stopped_and_the_reply_says_so() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[("QUERY_TIMEOUT_SECS", "0.001")]).await;

    ask(&bot, ALICE, "queues").await;
    let reply = eventually(DEADLINE, "the timeout reply", || async {
        bot.slack.messages(CHANNEL).into_iter().next()
    })
    .await;
    let text = reply.text.unwrap_or_default();
    assert!(
        text.starts_with(":hourglass: The query did not finish within 0.001 s and was stopped."),
        "{text}"
    );
    assert_eq!(exports.queries().await.len(), 1);
}

#[tokio::test]
async fn an_athena_failure_is_answered_with_its_reason() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[("DATABASE", "no_such_database")]).await;

    ask(&bot, ALICE, "etl-prod").await;
    let reply = eventually(DEADLINE, "the failure reply", || async {
        bot.slack.messages(CHANNEL).into_iter().next()
    })
    .await;
    let text = reply.text.unwrap_or_default();
    assert!(
        text.starts_with(":x: Athena could not answer: ```"),
        "{text}"
    );
    assert!(
        text.contains("stl_alert_event_log"),
        "the reason names the table: {text}"
    );
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
}

#[tokio::test]
async fn without_its_section_the_command_says_it_is_not_configured() {
    let bot = Bot::spawn(Options::default()).await;
    let reply = ask(&bot, ALICE, "help").await;
    assert_eq!(
        reply,
        "`/redshift-alerts` is not configured on this bot (no `[redshift_alerts]` section)."
    );
}

/// Asks `text` and returns the table of the answer titled `title` that it brings (answers
/// to earlier questions may share the title).
async fn answer_table(bot: &Bot, text: &str, title: &str) -> Vec<Vec<String>> {
    let before: Vec<String> = answers(bot, title).into_iter().map(|m| m.ts).collect();
    ask(bot, ALICE, text).await;
    let answer = eventually(DEADLINE, &format!("the answer to {text:?}"), || async {
        answers(bot, title)
            .into_iter()
            .find(|m| !before.contains(&m.ts))
    })
    .await;
    table(&answer).1
}

#[tokio::test]
async fn the_diagnostics_answer_per_cluster_from_their_tables() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    assert_eq!(
        answer_table(
            &bot,
            "statements etl-prod since 2d top 2",
            "Most time-consuming"
        )
        .await,
        rows(&[
            &[
                "etl-prod",
                "3",
                "2609",
                "2400",
                "0",
                "2026-11-03 22:59",
                "copy lineitem from 's3://etl/lineitem/' iam_role default"
            ],
            &[
                "etl-prod",
                "1",
                "120",
                "120",
                "1",
                "2026-11-03 05:00",
                "insert into audit select * from lineitem l, orders o"
            ],
        ])
    );
    assert_eq!(
        answer_table(
            &bot,
            "waits etl-prod adhoc-serverless since 2d top 2",
            "Longest queue waits"
        )
        .await,
        rows(&[
            &[
                "adhoc-serverless",
                "9103",
                "100",
                "2026-11-03 08:40",
                "0.2",
                "3.0"
            ],
            &[
                "adhoc-serverless",
                "9102",
                "100",
                "2026-11-03 08:00",
                "0.1",
                "2.0"
            ],
            &["etl-prod", "4002", "6", "2026-11-02 02:00", "10.0", "3.0"],
            &["etl-prod", "4004", "6", "2026-11-03 04:00", "2.0", "4.0"],
        ])
    );
    assert_eq!(
        answer_table(
            &bot,
            "nestloops analytics-prod etl-prod",
            "Nested-loop joins"
        )
        .await,
        rows(&[
            &[
                "analytics-prod",
                "203",
                "1",
                "2026-11-03 16:45",
                "select * from sales s, events e where s.eventid &gt; e.eventid"
            ],
            &[
                "etl-prod",
                "401",
                "2",
                "2026-11-03 05:01",
                "insert into audit select * from lineitem l, orders o"
            ],
        ])
    );
    assert_eq!(
        answer_table(&bot, "tables etl-prod", "Query alerts by table").await,
        rows(&[
            &[
                "etl-prod",
                "",
                "2",
                "0",
                "401",
                "Nested Loop Join in the query plan",
                "Review the join predicates to avoid Cartesian products"
            ],
            &[
                "etl-prod",
                "public.lineitem",
                "1",
                "180",
                "400",
                "Scanned a large number of deleted rows",
                "Run the VACUUM command to reclaim deleted space"
            ],
        ])
    );
    assert_eq!(
        answer_table(
            &bot,
            "stats analytics-prod adhoc-serverless",
            "Tables missing statistics"
        )
        .await,
        rows(&[
            &[
                "adhoc-serverless",
                "----- Tables missing statistics: events -----",
                "1"
            ],
            &[
                "analytics-prod",
                "----- Tables missing statistics: sales -----",
                "2"
            ],
            &[
                "analytics-prod",
                "----- Tables missing statistics: events -----",
                "1"
            ],
        ])
    );
    assert_eq!(exports.queries().await.len(), 5);
}

#[tokio::test]
async fn ddl_and_utility_show_who_ran_which_statement_newest_first() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    assert_eq!(
        answer_table(&bot, "ddl", "Schema changes").await,
        rows(&[
            &[
                "analytics-prod",
                "2026-11-03 12:00",
                "101",
                "alter table public.sales add column discount decimal(8,2)"
            ],
            &[
                "etl-prod",
                "2026-11-03 06:00",
                "100",
                "create table staging.lineitem_load (like public.lineitem)"
            ],
        ])
    );
    assert_eq!(
        answer_table(&bot, "utility etl-prod top 1", "Utility statements").await,
        rows(&[&[
            "etl-prod",
            "2026-11-03 07:30",
            "100",
            "analyze public.lineitem"
        ]])
    );
}

#[tokio::test]
async fn slow_aborted_and_scans_read_query_text_flags_and_scan_steps() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    // Two chunks of stl_querytext, the first ending in a space that is the text's own.
    let slow = answer_table(&bot, "slow etl-prod top 2", "Slowest queries").await;
    assert_eq!(
        slow,
        rows(&[
            &[
                "etl-prod",
                "2002",
                "100",
                "",
                "2026-11-03 22:00",
                "2400",
                "0.0",
                "copy lineitem from 's3://etl/lineitem/' iam_role default fo…"
            ],
            &[
                "etl-prod",
                "2003",
                "100",
                "",
                "2026-11-03 22:59",
                "150",
                "0.0",
                ""
            ],
        ])
    );
    ask(&bot, ALICE, "waits reporting-dev etl-prod").await;
    let answer = wait_for_answer(&bot, "Longest queue waits", 0).await;
    assert_section(
        &answer,
        ":warning: No data in this window for: reporting-dev.",
    );
    let checks = exports.all_queries().await;
    assert!(
        checks.iter().any(|sql| sql.starts_with("-- freshness")
            && sql.contains("MAX(queue_start_time)")
            && sql.contains("FROM ext_stl_wlm_query")),
        "{checks:?}"
    );
    assert_eq!(
        answer_table(&bot, "aborted since 2d", "Aborted queries").await,
        rows(&[&["etl-prod", "100", "1", "2003", "2026-11-03 22:59"]])
    );
    assert_eq!(
        answer_table(
            &bot,
            "scans analytics-prod adhoc-serverless top 1",
            "Most-scanned tables"
        )
        .await,
        rows(&[
            &["adhoc-serverless", "public.events", "2", "2000", "2"],
            &["analytics-prod", "public.sales", "2", "8000000", "640"],
        ])
    );
}

#[tokio::test]
async fn query_tells_one_querys_story_with_its_text_joined_from_chunks() {
    let exports = Exports::create().await;
    let bot = spawn(&exports, &[]).await;

    let story = answer_table(&bot, "query etl-prod 2002", "One query").await;
    assert_eq!(
        story,
        rows(&[
            &[
                "run",
                "started 2026-11-03 22:00:00, ran 2400 s, user 100, database dev"
            ],
            &[
                "text",
                "copy lineitem from 's3://etl/lineitem/' iam_role default format as parquet; -- nightly load of the lineitem table from the data lake, partition by partition, for the finance marts, the sales cubes to feed the reports built on them"
            ],
        ])
    );
    let plan = answer_table(&bot, "query analytics-prod 1005", "One query").await;
    let parts: Vec<&str> = plan.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(parts, ["run", "text", "plan", "plan", "plan"]);
    assert_eq!(plan[2][1], "----- Tables missing statistics: sales -----");
    assert_eq!(
        plan[4][1],
        "-&gt;  XN Seq Scan on sales  (cost=0.00..1000.00 rows=100000 width=0)"
    );
    let sql = exports.queries().await;
    assert!(
        sql.iter()
            .all(|s| s.contains("query = 2002") || s.contains("query = 1005")),
        "{sql:?}"
    );

    // A Serverless workgroup's query, from the SYS views.
    let serverless = answer_table(&bot, "query adhoc-serverless 9102", "One query").await;
    assert_eq!(
        serverless,
        rows(&[
            &[
                "run",
                "started 2026-11-03 08:00:00, ran 2 s, user 101, database dev"
            ],
            &["queue", "service class 100, queued 0.1 s, executed 2.0 s"],
            &["text", "select * from events limit 10"],
            &["plan", "----- Tables missing statistics: events -----"],
        ])
    );
}

#[tokio::test]
async fn every_question_answers_on_the_sandbox_data_dated_today_without_a_failure() {
    let exports = Exports::ending_today().await;
    let mut env = exports.env();
    // A chart upload may still hold the asker's slot when the next question comes.
    env.push((
        "CHATOPS__REDSHIFT_ALERTS__MAX_IN_FLIGHT_PER_USER".into(),
        "4".into(),
    ));
    let bot = Bot::spawn(Options {
        env,
        ..Options::default()
    })
    .await;

    for (text, title) in [
        ("since 3d", "Top alert events"),
        ("hourly since 3d", "Queries per hour"),
        ("queues since 3d", "WLM queues"),
        ("statements since 3d", "Most time-consuming statements"),
        ("waits since 3d", "Longest queue waits"),
        ("nestloops since 3d", "Nested-loop joins"),
        ("tables since 3d", "Query alerts by table"),
        ("stats since 3d", "Tables missing statistics"),
        ("slow since 3d", "Slowest queries"),
        ("aborted since 3d", "Aborted queries"),
        ("scans since 3d", "Most-scanned tables"),
        ("ddl since 3d", "Schema changes"),
        ("utility since 3d", "Utility statements"),
        ("query etl-prod 2002 since 3d", "One query"),
    ] {
        // Rows dated later today than now are outside every window, so a table may be empty
        // early in the day: the answer itself is what counts here.
        answer_table(&bot, text, title).await;
    }
    let failures: Vec<String> = bot
        .slack
        .messages(CHANNEL)
        .into_iter()
        .filter_map(|m| m.text)
        .filter(|t| t.starts_with(":x:"))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

/// One second before the digest is due: the fixtures' clock fast-forwarded to 23:59:59.
fn just_before_the_digest() -> chrono::DateTime<chrono::Utc> {
    crate::support::redshift::fixture_now() + chrono::TimeDelta::seconds(29 * 60 + 59)
}

/// The moment the digest is due: 2026-11-04 00:00 UTC.
fn when_the_digest_is_due() -> chrono::DateTime<chrono::Utc> {
    just_before_the_digest() + chrono::TimeDelta::seconds(1)
}

/// The settings of a digest at midnight in the test channel.
fn with_digest(exports: &Exports) -> Vec<(String, String)> {
    let mut env = exports.env();
    env.push((
        "CHATOPS__REDSHIFT_ALERTS__DIGEST__CHANNEL".into(),
        CHANNEL.into(),
    ));
    env.push((
        "CHATOPS__REDSHIFT_ALERTS__DIGEST__AT".into(),
        "00:00".into(),
    ));
    env
}

const DIGEST_TITLE: &str =
    "Top alert events · Daily digest · 4 clusters · 24h to 2026-11-04 00:00 UTC";

#[tokio::test]
async fn the_daily_digest_is_posted_once_at_its_time_with_the_top_alerts_and_stale_exports() {
    let exports = Exports::create().await;
    let mut bot = Bot::spawn(Options {
        env: with_digest(&exports),
        clock: Some(just_before_the_digest),
        ..Options::default()
    })
    .await;

    let digest = wait_for_answer(&bot, DIGEST_TITLE, 0).await;
    let (_, got) = table(&digest);
    let analytics: Vec<(String, String)> = got
        .iter()
        .filter(|r| r[0] == "analytics-prod")
        .map(|r| (r[1].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        analytics,
        [
            ("3", "Missing query planner statistics"),
            ("1", "Nested Loop Join in the query plan"),
            ("1", "Scanned a large number of deleted rows"),
            ("1", "Very selective query filter"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // Stale by the query log (stl_query, sys_query_history) at the due time, not by alerts.
    assert_section(&digest, ":warning: Export older than 2 h: adhoc-serverless (15 h 20 min old), analytics-prod (7 h 15 min old), reporting-dev (13 h 50 min old). Check the cluster's export job and crawler.");
    assert_section(&digest, "No digest yesterday to compare with.");

    // Stopping waits for a digest in progress; the next one is due tomorrow.
    bot.stop().await;
    assert_eq!(answers(&bot, DIGEST_TITLE).len(), 1, "one digest");
}

#[tokio::test]
async fn two_processes_sharing_the_state_store_post_one_digest() {
    let exports = Exports::create().await;
    let env = with_digest(&exports);
    let mut bot = Bot::prepare(false)
        .await
        .with_shared_state()
        .await
        .start(Options {
            env: env.clone(),
            clock: Some(when_the_digest_is_due),
            ..Options::default()
        })
        .await;
    let replica = bot
        .start_replica_with_clock(4, env, Some(when_the_digest_is_due))
        .await;

    wait_for_answer(&bot, DIGEST_TITLE, 0).await;
    // Both processes tried at once (the digest was due when they started); stopping them waits
    // for a digest in progress.
    replica.stop().await;
    bot.stop().await;
    assert_eq!(answers(&bot, DIGEST_TITLE).len(), 1, "one digest");
}

#[tokio::test]
async fn the_digest_compares_with_yesterdays_counts_from_the_state_store_and_stores_todays() {
    use chatops::outbound::records::{Expect, Records};

    let exports = Exports::create().await;
    let bot = Bot::prepare(false).await.with_shared_state().await;
    let config = crate::support::aws::sdk_config().await;
    let records = Records::dynamodb(aws_sdk_dynamodb::Client::new(&config), &bot.state_table());
    let pk = format!("digest#{CHANNEL}");
    let yesterday = serde_json::json!({"counts": {
        "analytics-prod: Missing query planner statistics": 1,
        "etl-prod: Nested Loop Join in the query plan": 2,
        "reporting-dev: Very selective query filter": 4,
        "etl-prod: Disk-based query": 1,
    }});
    let expires_at = chrono::Utc::now().timestamp() + 86_400;
    records
        .put(
            &pk,
            "2026-11-03",
            Expect::Absent,
            &yesterday.to_string(),
            expires_at,
        )
        .await
        .expect("yesterday's digest stored");
    let mut bot = bot
        .start(Options {
            env: with_digest(&exports),
            clock: Some(when_the_digest_is_due),
            ..Options::default()
        })
        .await;

    let digest = wait_for_answer(&bot, DIGEST_TITLE, 0).await;
    assert_section(&digest, "Since yesterday: *new:* adhoc-serverless: Missing query planner statistics (1), adhoc-serverless: Nested Loop Join in the query plan (2), analytics-prod: Nested Loop Join in the query plan (1), analytics-prod: Scanned a large number of deleted rows (1), analytics-prod: Very selective query filter (1), etl-prod: Scanned a large number of deleted rows (1); *up:* analytics-prod: Missing query planner statistics 1 → 3; *down:* reporting-dev: Very selective query filter 4 → 1; *no longer in the top:* etl-prod: Disk-based query.");

    bot.stop().await;
    let today = records
        .get(&pk, "2026-11-04")
        .await
        .expect("the store answers")
        .expect("today's record");
    let today: serde_json::Value = serde_json::from_str(&today.body).expect("JSON");
    assert_eq!(
        today["counts"]["analytics-prod: Missing query planner statistics"],
        3
    );
}
