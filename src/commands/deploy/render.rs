//! `/deploy`'s Slack messages: help, list lines, status blocks, confirmations, and the thread
//! that follows an execution. Pure; untrusted text is escaped and cut to Block Kit's limits.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;

use super::parse::{Start, Stop, USAGE};
use super::progress::{Progress, ThreadReply};
use crate::audit::AuditEntry;
use crate::ids::{PipelineName, UserId};
use crate::outbound::codepipeline::{ExecutionSummary, StageView};
use crate::outbound::slack::mrkdwn::{
    content, cut, date, escape, escape_cut, plain, utf16_len, RenderError, HEADER_MAX,
};

/// `action_id` prefix of `/deploy`'s buttons.
pub const PREFIX: &str = "deploy:";
/// Confirm a start.
pub const CONFIRM_START: &str = "deploy:start";
/// Confirm a stop.
pub const CONFIRM_STOP: &str = "deploy:stop";
/// Drop a confirmation.
pub const CANCEL: &str = "deploy:cancel";
const SECTION_MAX: usize = 3000;

/// The help: usage, then what this user may do on which pipeline.
pub fn help(roles: &[(String, Vec<&str>)]) -> String {
    let mine: Vec<String> = roles
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(p, r)| format!("`{}` ({})", escape(p), r.join(", ")))
        .collect();
    if mine.is_empty() {
        format!("{USAGE}\nYou may not start, stop or approve any pipeline here.")
    } else {
        format!("{USAGE}\n*You may act on:* {}", mine.join(", "))
    }
}

/// A status mark for an API status.
fn mark(status: Option<&str>) -> &'static str {
    match status {
        Some("Succeeded") => ":white_check_mark:",
        Some("Failed") => ":x:",
        Some("InProgress") => ":arrows_counterclockwise:",
        Some("Stopped" | "Stopping") => ":octagonal_sign:",
        Some("Superseded" | "Cancelled" | "Abandoned") => ":fast_forward:",
        _ => ":white_circle:",
    }
}

/// "3m", "2h 5m", "1d 4h": how long ago `at` was.
fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", duration(now - at))
}

/// A short duration: "42s", "3m 05s", "2h 05m", "1d 04h".
pub fn duration(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn short(revision: &str) -> String {
    escape(&revision.chars().take(12).collect::<String>())
}

/// One `/deploy list` line.
pub fn list_line(
    pipeline: &PipelineName,
    latest: &Result<Option<ExecutionSummary>, String>,
    now: DateTime<Utc>,
) -> String {
    let what = match latest {
        Ok(None) => "no executions yet".to_owned(),
        Ok(Some(e)) => {
            let mut parts = vec![format!("{} {}", mark(Some(&e.status)), escape(&e.status))];
            if let Some(at) = e.started {
                parts.push(format!("started {}", ago(at, now)));
            }
            if let Some(r) = &e.revision {
                parts.push(format!("`{}`", short(r)));
            }
            parts.join(" · ")
        }
        Err(reason) => format!(":warning: {}", escape_cut(reason, 200)),
    };
    format!("• `{pipeline}`: {what}")
}

/// `/deploy status`: the latest execution, then each stage with its actions.
pub fn status(
    pipeline: &PipelineName,
    stages: &[StageView],
    latest: Option<&ExecutionSummary>,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let mut blocks =
        vec![json!({"type": "header", "text": plain(&format!("Status of {pipeline}"), 150)})];
    let head = match latest {
        Some(e) => {
            let mut line = format!(
                "*Latest execution* `{}` {} {}",
                escape(&e.execution_id),
                mark(Some(&e.status)),
                escape(&e.status)
            );
            if let Some(r) = &e.revision {
                line.push_str(&format!(" · revision `{}`", short(r)));
            }
            if let Some(at) = e.started {
                line.push_str(&format!(" · started {}", ago(at, now)));
            }
            if let Some(at) = e.updated {
                line.push_str(&format!(" · updated {}", ago(at, now)));
            }
            line
        }
        None => "No executions yet.".to_owned(),
    };
    blocks.push(
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&head, SECTION_MAX)}}),
    );
    for stage in stages.iter().take(40) {
        let mut lines = vec![format!(
            "{} *{}* {}",
            mark(stage.status.as_deref()),
            escape_cut(&stage.name, 100),
            escape(stage.status.as_deref().unwrap_or("not run"))
        )];
        for action in &stage.actions {
            let mut line = format!(
                "    {} {}",
                mark(action.status.as_deref()),
                escape_cut(&action.name, 100)
            );
            if let Some(r) = &action.revision {
                line.push_str(&format!(" `{}`", short(r)));
            }
            if let Some(at) = action.last_change {
                line.push_str(&format!(" · {}", ago(at, now)));
            }
            if let Some(e) = action.error.as_ref().or(action.summary.as_ref()) {
                line.push_str(&format!(" · {}", escape_cut(e, 300)));
            }
            lines.push(line);
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&lines.join("\n"), SECTION_MAX)}}));
    }
    blocks
}

/// Longest `/deploy history` line: 50 of them fill at most 17 sections of 3,000.
const HISTORY_LINE_MAX: usize = 900;

/// `/deploy history`: the pipeline's audit entries (newest first, as given), packed into as
/// few sections as Block Kit's limits allow.
///
/// # Errors
/// Only on a template bug.
pub fn history(
    pipeline: &PipelineName,
    entries: &[AuditEntry],
) -> Result<SlackMessageContent, RenderError> {
    let title = format!("History of {pipeline}");
    let mut blocks = vec![json!({"type": "header", "text": plain(&title, HEADER_MAX)})];
    let mut sections = Vec::new();
    let mut section = String::new();
    for entry in entries {
        let line = cut(&history_line(entry), HISTORY_LINE_MAX);
        if !section.is_empty() && utf16_len(&section) + 1 + utf16_len(&line) > SECTION_MAX {
            sections.push(std::mem::take(&mut section));
        }
        if !section.is_empty() {
            section.push('\n');
        }
        section.push_str(&line);
    }
    if entries.is_empty() {
        section = format!("No decisions, starts or stops of `{pipeline}` are on record.");
    }
    sections.push(section);
    blocks.extend(
        sections
            .iter()
            .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})),
    );
    blocks.truncate(50);
    content(&title, blocks)
}

/// `• <date> *approved* by @alice: recorded · execution `e1f2…` · in #deploys · reason`.
fn history_line(e: &AuditEntry) -> String {
    let mut line = format!(
        "• {} *{}* by <@{}>: {}",
        date(e.at),
        e.what.as_str(),
        escape_cut(&e.user, 30),
        escape_cut(&e.outcome, 60)
    );
    if let Some(id) = &e.execution_id {
        line.push_str(&format!(" · execution `{}`", escape_cut(id, 60)));
    }
    line.push_str(&format!(" · in <#{}>", e.link.channel));
    let why = match (e.reason.as_str(), &e.summary) {
        ("", Some(summary)) => summary.as_str(),
        (reason, _) => reason,
    };
    if !why.is_empty() {
        line.push_str(&format!(" · {}", escape_cut(why, 400)));
    }
    line
}

/// Wraps status blocks (and a pending approval's prompt blocks) as a message.
///
/// # Errors
/// Only on a template bug.
pub fn status_message(
    pipeline: &PipelineName,
    mut blocks: Vec<Value>,
    prompt: Option<SlackMessageContent>,
) -> Result<SlackMessageContent, RenderError> {
    if let Some(blocks_of_prompt) = prompt.and_then(|p| p.blocks) {
        blocks.push(json!({"type": "divider"}));
        blocks.extend(
            serde_json::to_value(blocks_of_prompt)?
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    blocks.truncate(50);
    content(&format!("Status of {pipeline}"), blocks)
}

fn confirmation(
    title: &str,
    lines: &[String],
    action_id: &str,
    verb: &str,
    style: &str,
    value: &str,
) -> Result<SlackMessageContent, RenderError> {
    let blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*{title}*\n{}", lines.join("\n")), SECTION_MAX)}}),
        json!({"type": "actions", "block_id": "deploy_confirm", "elements": [
            {"type": "button", "action_id": action_id, "style": style, "value": value, "text": plain(verb, 75)},
            {"type": "button", "action_id": CANCEL, "value": "cancel", "text": plain("Cancel", 75)},
        ]}),
    ];
    content(title, blocks)
}

/// The confirmation of a start: exactly what will run.
///
/// # Errors
/// Only on a template bug.
pub fn confirm_start(
    start: &Start,
    source_action: Option<&str>,
    value: &str,
) -> Result<SlackMessageContent, RenderError> {
    let mut lines = vec![format!("*Pipeline* `{}`", start.pipeline)];
    lines.push(match (&start.revision, source_action) {
        (Some(r), Some(a)) => format!(
            "*Source revision* `{}` for action `{}`",
            escape(r),
            escape(a)
        ),
        _ => "*Source revision* the latest".to_owned(),
    });
    if start.variables.is_empty() {
        lines.push("*Variables* none".to_owned());
    } else {
        lines.push("*Variables*".to_owned());
        for (name, value) in &start.variables {
            lines.push(format!(
                "• `{}` = `{}`",
                escape(name),
                escape_cut(value, 200)
            ));
        }
    }
    confirmation(
        &format!("Start {}?", start.pipeline),
        &lines,
        CONFIRM_START,
        "Start",
        "primary",
        value,
    )
}

/// The confirmation of a stop, naming the execution that runs now.
///
/// # Errors
/// Only on a template bug.
pub fn confirm_stop(
    stop: &Stop,
    running: &ExecutionSummary,
    value: &str,
) -> Result<SlackMessageContent, RenderError> {
    let how = if stop.abandon {
        "abandon: in-progress actions are abandoned at once"
    } else {
        "graceful: in-progress actions finish first"
    };
    let mut lines = vec![
        format!("*Pipeline* `{}`", stop.pipeline),
        format!("*Execution* `{}`", escape(&running.execution_id)),
        format!("*Mode* {how}"),
    ];
    if let Some(reason) = &stop.reason {
        lines.push(format!("*Reason* {}", escape(reason)));
    }
    confirmation(
        &format!("Stop {}?", stop.pipeline),
        &lines,
        CONFIRM_STOP,
        "Stop",
        "danger",
        value,
    )
}

/// The execution's console page.
pub fn console_url(region: &str, pipeline: &PipelineName, execution_id: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/executions/{execution_id}/timeline?region={region}")
}

/// What the thread follows.
pub struct Followed<'a> {
    pub pipeline: &'a PipelineName,
    pub execution_id: &'a str,
    pub user: &'a UserId,
    pub console_url: &'a str,
}

/// The thread's top message: who started what, and where it stands now.
///
/// # Errors
/// Only on a template bug.
pub fn top(f: &Followed<'_>, progress: &Progress) -> Result<SlackMessageContent, RenderError> {
    let head = format!(
        ":rocket: `{}` started by <@{}>: execution <{}|`{}`>",
        f.pipeline, f.user, f.console_url, f.execution_id
    );
    let now_line = match (&progress.result, progress.stopping, &progress.current) {
        (Some((state, at)), _, _) => result_line(state, *at - progress.started_at, progress),
        (None, true, _) => ":octagonal_sign: Stopping…".to_owned(),
        (None, false, Some(stage)) => {
            format!(
                ":arrows_counterclockwise: In progress: stage *{}*",
                escape_cut(stage, 100)
            )
        }
        (None, false, None) => ":arrows_counterclockwise: In progress".to_owned(),
    };
    let blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": head}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&now_line, SECTION_MAX)}]}),
    ];
    content(&format!("{} started by <@{}>", f.pipeline, f.user), blocks)
}

/// "Succeeded in 1m 05s", or "Failed after 12s: action `X` in stage `Y`: error".
fn result_line(state: &str, took: TimeDelta, progress: &Progress) -> String {
    let took = duration(took);
    match state {
        "SUCCEEDED" => format!(":white_check_mark: *Succeeded* in {took}"),
        "FAILED" => {
            let mut line = format!(":x: *Failed* after {took}");
            if let Some(f) = &progress.failure {
                line.push_str(&format!(
                    ": action `{}` in stage `{}`",
                    escape_cut(&f.action, 100),
                    escape_cut(&f.stage, 100)
                ));
                if let Some(summary) = &f.summary {
                    line.push_str(&format!(": {}", escape_cut(summary, 500)));
                }
            }
            line
        }
        "STOPPED" => format!(":octagonal_sign: *Stopped* after {took}"),
        "SUPERSEDED" => format!(":fast_forward: *Superseded* by a newer execution after {took}"),
        other => format!(":grey_question: *{}* after {took}", escape(other)),
    }
}

/// The text of one thread reply.
pub fn reply(reply: &ThreadReply, progress: &Progress) -> String {
    match reply {
        ThreadReply::Result => match &progress.result {
            Some((state, at)) => result_line(state, *at - progress.started_at, progress),
            None => String::new(),
        },
        ThreadReply::Stage {
            stage,
            state,
            failure,
        } => {
            let stage = escape_cut(stage, 100);
            match (state.as_str(), failure) {
                ("SUCCEEDED", _) => format!(":white_check_mark: Stage *{stage}* succeeded"),
                ("FAILED", Some(f)) => format!(
                    ":x: Stage *{stage}* failed: action `{}`: {}",
                    escape_cut(&f.action, 100),
                    escape_cut(f.summary.as_deref().unwrap_or("no error summary"), 500)
                ),
                ("FAILED", None) => format!(":x: Stage *{stage}* failed"),
                ("STOPPED", _) => format!(":octagonal_sign: Stage *{stage}* stopped"),
                (other, _) => format!(
                    ":fast_forward: Stage *{stage}* {}",
                    escape(&other.to_lowercase())
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::deploy::progress::Change;

    fn name() -> PipelineName {
        PipelineName::parse("web-app").expect("name")
    }

    #[test]
    fn durations_are_short_and_never_negative() {
        assert_eq!(duration(TimeDelta::seconds(42)), "42s");
        assert_eq!(duration(TimeDelta::seconds(65)), "1m 05s");
        assert_eq!(duration(TimeDelta::seconds(7500)), "2h 05m");
        assert_eq!(duration(TimeDelta::seconds(-3)), "0s");
    }

    #[test]
    fn a_list_line_has_status_age_and_revision() {
        let now = Utc::now();
        let e = ExecutionSummary {
            execution_id: "e".into(),
            status: "Succeeded".into(),
            started: Some(now - TimeDelta::seconds(90)),
            updated: None,
            revision: Some("3f7c1e2a9b8d4c6e5f0a".into()),
        };
        assert_eq!(
            list_line(&name(), &Ok(Some(e)), now),
            "• `web-app`: :white_check_mark: Succeeded · started 1m 30s ago · `3f7c1e2a9b8d`"
        );
        assert_eq!(
            list_line(&name(), &Ok(None), now),
            "• `web-app`: no executions yet"
        );
    }

    fn entry(what: crate::audit::What, reason: &str) -> AuditEntry {
        AuditEntry {
            at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            pipeline: name(),
            user: "U0ALICE".into(),
            what,
            outcome: "recorded".into(),
            reason: reason.into(),
            summary: Some("Approved in Slack by alice".into()),
            execution_id: Some("e1f2".into()),
            token_hash: Some("abc".into()),
            link: crate::audit::MessageLink {
                channel: crate::ids::ChannelId::parse("C0DEPLOYS").expect("channel"),
                ts: None,
            },
        }
    }

    fn texts(c: &SlackMessageContent) -> Vec<String> {
        let blocks = serde_json::to_value(&c.blocks).expect("json");
        let blocks = blocks.as_array().cloned().unwrap_or_default();
        blocks
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn history_lists_entries_in_the_order_given_with_who_what_and_why_escaped() {
        use crate::audit::What;
        let entries = [
            entry(What::Rejected, "<!channel> broke"),
            entry(What::Approved, ""),
        ];
        let c = history(&name(), &entries).expect("render");
        let texts = texts(&c);
        assert_eq!(texts[0], "History of web-app");
        let lines: Vec<&str> = texts[1].lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("*rejected* by <@U0ALICE>: recorded"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("· &lt;!channel&gt; broke"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("execution `e1f2` · in <#C0DEPLOYS>"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("*approved*"), "{}", lines[1]);
        assert!(
            lines[1].ends_with("· Approved in Slack by alice"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn an_empty_history_says_so() {
        let c = history(&name(), &[]).expect("render");
        assert!(texts(&c)[1].contains("No decisions, starts or stops of `web-app`"));
    }

    #[test]
    fn fifty_long_entries_fit_block_kit_limits() {
        let entries = vec![entry(crate::audit::What::Stop, &"&".repeat(3000)); 50];
        let c = history(&name(), &entries).expect("render");
        let texts = texts(&c);
        assert!(texts.len() <= 50);
        assert!(texts.iter().all(|t| utf16_len(t) <= SECTION_MAX));
        let lines = texts[1..].iter().flat_map(|t| t.lines()).count();
        assert_eq!(lines, 50, "every entry shown");
    }

    #[test]
    fn confirmations_escape_what_the_user_typed() {
        let start = Start {
            pipeline: name(),
            revision: None,
            variables: vec![("X".into(), "<!channel>".into())],
        };
        let c = confirm_start(&start, None, "v").expect("render");
        let text = serde_json::to_string(&c.blocks).expect("json");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains(CONFIRM_START) && text.contains(CANCEL));
    }

    #[test]
    fn the_result_names_the_failed_action_and_its_error() {
        let now = Utc::now();
        let mut p = Progress::new(now - TimeDelta::seconds(12));
        p.apply(
            Change::ActionFailed {
                stage: "Deploy".into(),
                action: "DeployApp".into(),
                summary: Some("health <checks>".into()),
            },
            now,
        );
        p.apply(Change::Execution("FAILED".into()), now);
        assert_eq!(
            reply(&ThreadReply::Result, &p),
            ":x: *Failed* after 12s: action `DeployApp` in stage `Deploy`: health &lt;checks&gt;"
        );
        let f = Followed {
            pipeline: &name(),
            execution_id: "e",
            user: &UserId::parse("U0ALICE").expect("user"),
            console_url: "https://x",
        };
        let top = serde_json::to_string(&top(&f, &p).expect("render").blocks).expect("json");
        assert!(top.contains("*Failed* after 12s"), "{top}");
    }

    #[test]
    fn a_status_has_a_section_per_stage() {
        let stages = vec![StageView {
            name: "Build".into(),
            execution_id: Some("e".into()),
            status: Some("Succeeded".into()),
            actions: vec![],
        }];
        let blocks = status(&name(), &stages, None, Utc::now());
        assert_eq!(blocks.len(), 3);
        assert!(blocks[2]
            .to_string()
            .contains(":white_check_mark: *Build* Succeeded"));
    }
}
