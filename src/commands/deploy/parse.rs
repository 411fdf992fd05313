//! `/deploy` arguments: a hand parser (pure, before the ack) whose refusals are the usage text.
//!
//! Everything that reaches CodePipeline is checked here against the API's own patterns, so bad
//! input never becomes an AWS call: pipeline names, the revision, `VAR=value` pairs, the reason.

use serde::{Deserialize, Serialize};

use crate::error::UserError;
use crate::ids::{shown, PipelineName};

/// `/deploy help`, which is also what bad input gets.
pub const USAGE: &str = "\
*Usage*
• `/deploy` or `/deploy help`: this text, and the pipelines you may act on
• `/deploy list`: each pipeline with its latest execution
• `/deploy status <pipeline>`: stages, latest execution, pending approval
• `/deploy history <pipeline> [N]`: the last N decisions, starts and stops, newest first (10, at most 50)
• `/deploy <pipeline> [revision] [VAR=value …]` (or `/deploy start …`): start, after a confirmation
• `/deploy stop <pipeline> [--abandon] [reason …]`: stop the running execution, after a confirmation (graceful unless `--abandon`)";

/// Longest command text read at all.
const MAX_TEXT: usize = 2000;
/// CodePipeline's limits: variables per start, name and value lengths, stop reason.
const MAX_VARIABLES: usize = 50;
const MAX_VARIABLE_NAME: usize = 128;
const MAX_VARIABLE_VALUE: usize = 1000;
const MAX_REVISION: usize = 1500;
const MAX_REASON: usize = 200;
/// Entries `/deploy history` shows by default.
pub const HISTORY_DEFAULT: usize = 10;
/// Entries `/deploy history` shows at most.
pub const HISTORY_MAX: usize = 50;
/// Configured names offered for an unknown one.
const SUGGESTIONS: usize = 3;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Help,
    List,
    Status(PipelineName),
    History(History),
    Start(Start),
    Stop(Stop),
}

/// `/deploy history`: the latest `count` audit entries of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub pipeline: PipelineName,
    /// 1 to [`HISTORY_MAX`].
    pub count: usize,
}

/// A start, as confirmed and then run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    #[serde(rename = "p")]
    pub pipeline: PipelineName,
    /// A source revision (commit id) to run instead of the latest.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Pipeline variables, in the order given.
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<(String, String)>,
}

/// A stop, as confirmed and then run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    #[serde(rename = "p")]
    pub pipeline: PipelineName,
    /// Abandon in-progress actions instead of letting them finish.
    #[serde(rename = "a", default)]
    pub abandon: bool,
    #[serde(rename = "why", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A request a confirmation button carries, read back from its value (untrusted).
pub trait Confirmable {
    /// The pipeline it acts on.
    fn pipeline(&self) -> &PipelineName;

    /// Re-checks it as `parse` would have.
    ///
    /// # Errors
    /// The reason it is not one `parse` would have produced.
    fn check(&self) -> Result<(), UserError>;
}

impl Confirmable for Start {
    fn pipeline(&self) -> &PipelineName {
        &self.pipeline
    }

    fn check(&self) -> Result<(), UserError> {
        if let Some(r) = &self.revision {
            revision(r)?;
        }
        if self.variables.len() > MAX_VARIABLES {
            return Err(usage(format!("At most {MAX_VARIABLES} variables.")));
        }
        for (name, value) in &self.variables {
            variable(&format!("{name}={value}"))?;
        }
        Ok(())
    }
}

impl Confirmable for Stop {
    fn pipeline(&self) -> &PipelineName {
        &self.pipeline
    }

    fn check(&self) -> Result<(), UserError> {
        self.reason
            .as_deref()
            .map_or(Ok(()), |r| reason(r).map(|_| ()))
    }
}

/// Reads the text after `/deploy`; pipelines must be among `configured`.
///
/// # Errors
/// A usage text saying what is wrong (unknown pipelines get the closest configured names).
pub fn parse(text: &str, configured: &[&str]) -> Result<Args, UserError> {
    if text.chars().count() > MAX_TEXT {
        return Err(usage(format!(
            "That is too long (at most {MAX_TEXT} characters)."
        )));
    }
    if let Some(c) = text.chars().find(|c| is_odd(*c)) {
        return Err(usage(format!(
            "Unexpected character U+{:04X}; use plain text.",
            u32::from(c)
        )));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&first, rest)) = words.split_first() else {
        return Ok(Args::Help);
    };
    let no_more = |args: Args| {
        if rest.is_empty() {
            Ok(args)
        } else {
            Err(usage(format!(
                "`{first}` takes no arguments; got `{}`.",
                shown(rest[0])
            )))
        }
    };
    match first {
        "help" => no_more(Args::Help),
        "list" => no_more(Args::List),
        "status" => match rest {
            [name] => Ok(Args::Status(pipeline(name, configured)?)),
            [] => Err(usage("Which pipeline? `/deploy status <pipeline>`.")),
            [_, extra, ..] => Err(usage(format!("Unexpected `{}`.", shown(extra)))),
        },
        "history" => history(rest, configured),
        "stop" => stop(rest, configured),
        "start" => start(rest, configured),
        _ => start(&words, configured),
    }
}

fn start(words: &[&str], configured: &[&str]) -> Result<Args, UserError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(usage("Which pipeline? `/deploy start <pipeline>`."));
    };
    let pipeline = pipeline(name, configured)?;
    let mut rest = rest.iter().peekable();
    let revision = match rest.peek() {
        Some(word) if !word.contains('=') => {
            let r = revision(word)?;
            rest.next();
            Some(r)
        }
        _ => None,
    };
    let mut variables: Vec<(String, String)> = Vec::new();
    for word in rest {
        let (name, value) = variable(word)?;
        if variables.iter().any(|(n, _)| *n == name) {
            return Err(usage(format!("Variable `{name}` is given twice.")));
        }
        variables.push((name, value));
    }
    if variables.len() > MAX_VARIABLES {
        return Err(usage(format!("At most {MAX_VARIABLES} variables.")));
    }
    Ok(Args::Start(Start {
        pipeline,
        revision,
        variables,
    }))
}

fn history(words: &[&str], configured: &[&str]) -> Result<Args, UserError> {
    let (name, count) = match words {
        [name] => (name, HISTORY_DEFAULT),
        [name, n] => {
            let count = n.parse().ok().filter(|c| (1..=HISTORY_MAX).contains(c));
            let count = count.ok_or_else(|| {
                usage(format!(
                    "`{}` is not a number of entries (1 to {HISTORY_MAX}).",
                    shown(n)
                ))
            })?;
            (name, count)
        }
        [] => return Err(usage("Which pipeline? `/deploy history <pipeline> [N]`.")),
        [_, _, extra, ..] => return Err(usage(format!("Unexpected `{}`.", shown(extra)))),
    };
    Ok(Args::History(History {
        pipeline: pipeline(name, configured)?,
        count,
    }))
}

fn stop(words: &[&str], configured: &[&str]) -> Result<Args, UserError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(usage("Which pipeline? `/deploy stop <pipeline>`."));
    };
    let pipeline = pipeline(name, configured)?;
    let abandon = rest.contains(&"--abandon");
    let words: Vec<&str> = rest.iter().copied().filter(|w| *w != "--abandon").collect();
    if let Some(flag) = words.iter().find(|w| w.starts_with("--")) {
        return Err(usage(format!("Unknown option `{}`.", shown(flag))));
    }
    let reason = if words.is_empty() {
        None
    } else {
        Some(reason(&words.join(" "))?)
    };
    Ok(Args::Stop(Stop {
        pipeline,
        abandon,
        reason,
    }))
}

/// A configured pipeline, or a refusal naming the closest configured ones.
fn pipeline(name: &str, configured: &[&str]) -> Result<PipelineName, UserError> {
    let parsed = PipelineName::parse(name).map_err(|e| usage(format!("{e}.")))?;
    if configured.contains(&name) {
        return Ok(parsed);
    }
    let mut ranked: Vec<(usize, &str)> = configured
        .iter()
        .map(|c| (distance(&name.to_lowercase(), &c.to_lowercase()), *c))
        .collect();
    ranked.sort();
    let closest: Vec<String> = ranked
        .iter()
        .take(SUGGESTIONS)
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    let hint = if closest.is_empty() {
        "No pipelines are configured.".to_owned()
    } else {
        format!("Closest configured: {}.", closest.join(", "))
    };
    Err(UserError::new(format!(
        "`{}` is not a pipeline this bot serves (or not a sub-command). {hint}\n{USAGE}",
        shown(name)
    )))
}

fn revision(word: &str) -> Result<String, UserError> {
    let ok = (1..=MAX_REVISION).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':'));
    if ok {
        Ok(word.to_owned())
    } else {
        Err(usage(format!(
            "`{}` is not a revision (a commit id: letters, digits, `._-/:`).",
            shown(word)
        )))
    }
}

fn variable(word: &str) -> Result<(String, String), UserError> {
    let malformed = || {
        usage(format!(
            "`{}` is not `VAR=value` (name: 1-{MAX_VARIABLE_NAME} of A-Z a-z 0-9 @ - _; value: 1-{MAX_VARIABLE_VALUE} characters).",
            shown(word)
        ))
    };
    let (name, value) = word.split_once('=').ok_or_else(malformed)?;
    let name_ok = (1..=MAX_VARIABLE_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'-' | b'_'));
    let value_ok =
        (1..=MAX_VARIABLE_VALUE).contains(&value.chars().count()) && !value.chars().any(is_odd);
    if name_ok && value_ok {
        Ok((name.to_owned(), value.to_owned()))
    } else {
        Err(malformed())
    }
}

fn reason(text: &str) -> Result<String, UserError> {
    if text.chars().count() > MAX_REASON || text.chars().any(is_odd) {
        return Err(usage(format!(
            "A stop reason is at most {MAX_REASON} plain characters."
        )));
    }
    Ok(text.to_owned())
}

/// Control characters, and format characters that hide or reorder text (zero-width, bidi).
fn is_odd(c: char) -> bool {
    (c.is_control() && !matches!(c, ' ' | '\t' | '\n'))
        || matches!(u32::from(c), 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB)
}

fn usage(problem: impl Into<String>) -> UserError {
    UserError::new(format!("{}\n{USAGE}", problem.into()))
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIGURED: &[&str] = &["web-app", "billing-service", "web-api"];

    fn ok(text: &str) -> Args {
        parse(text, CONFIGURED).expect(text)
    }

    fn refusal(text: &str) -> String {
        parse(text, CONFIGURED).expect_err(text).0
    }

    fn name(n: &str) -> PipelineName {
        PipelineName::parse(n).expect("name")
    }

    #[test]
    fn empty_text_and_help_ask_for_help() {
        assert_eq!(ok(""), Args::Help);
        assert_eq!(ok("   "), Args::Help);
        assert_eq!(ok("help"), Args::Help);
        assert_eq!(ok("list"), Args::List);
    }

    #[test]
    fn a_bare_pipeline_and_start_both_start_with_revision_and_variables() {
        let expected = Args::Start(Start {
            pipeline: name("web-app"),
            revision: Some("3f7c1e2a".into()),
            variables: vec![("ENV".into(), "prod".into()), ("X".into(), "a=b".into())],
        });
        assert_eq!(ok("web-app 3f7c1e2a ENV=prod X=a=b"), expected);
        assert_eq!(ok("start web-app 3f7c1e2a ENV=prod X=a=b"), expected);
        assert_eq!(
            ok("web-app ENV=prod"),
            Args::Start(Start {
                pipeline: name("web-app"),
                revision: None,
                variables: vec![("ENV".into(), "prod".into())],
            })
        );
    }

    #[test]
    fn stop_reads_abandon_and_a_reason() {
        assert_eq!(
            ok("stop web-app --abandon broken build"),
            Args::Stop(Stop {
                pipeline: name("web-app"),
                abandon: true,
                reason: Some("broken build".into()),
            })
        );
        assert_eq!(
            ok("stop web-app"),
            Args::Stop(Stop {
                pipeline: name("web-app"),
                abandon: false,
                reason: None,
            })
        );
    }

    #[test]
    fn an_unknown_pipeline_gets_the_closest_configured_names() {
        let text = refusal("status web-ap");
        assert!(
            text.contains("Closest configured: `web-api`, `web-app`"),
            "{text}"
        );
        assert!(refusal("wbe-app").contains("`web-app`"));
    }

    #[test]
    fn bad_input_always_gets_the_usage() {
        for bad in [
            "help me",
            "list all",
            "status",
            "status web-app extra",
            "stop",
            "stop web-app --force",
            "start",
            "web-app rev extra",
            "web-app rev ENV=",
            "web-app =x",
            "web-app ENV=a ENV=b",
            "web-app bad!rev",
            "web-app rev BAD!NAME=x",
            "pipe|line",
            "web-app X=\u{202E}evil",
            "web-app\u{200B}",
            "web-app X=a\u{0}",
            "💥",
        ] {
            assert!(refusal(bad).contains("*Usage*"), "{bad}");
        }
        assert!(refusal(&"a".repeat(4096)).contains("too long"));
        assert!(refusal(&format!("stop web-app {}", "x".repeat(201))).contains("*Usage*"));
        let many: Vec<String> = (0..51).map(|i| format!("V{i}=x")).collect();
        assert!(refusal(&format!("web-app {}", many.join(" "))).contains("At most 50"));
    }

    #[test]
    fn values_read_back_from_buttons_are_checked_again() {
        let mut start = Start {
            pipeline: name("web-app"),
            revision: Some("ok".into()),
            variables: vec![],
        };
        assert!(start.check().is_ok());
        start.revision = Some("not ok".into());
        assert!(start.check().is_err());
        let stop = Stop {
            pipeline: name("web-app"),
            abandon: false,
            reason: Some("x\u{202E}".into()),
        };
        assert!(stop.check().is_err());
    }

    #[test]
    fn history_reads_a_configured_pipeline_and_an_optional_count_up_to_fifty() {
        let history = |p: &str, count| {
            Args::History(History {
                pipeline: name(p),
                count,
            })
        };
        assert_eq!(ok("history web-app"), history("web-app", 10));
        assert_eq!(ok("history web-app 50"), history("web-app", 50));
        assert_eq!(ok("history  web-api  1 "), history("web-api", 1));
        for bad in ["0", "51", "-3", "ten", "1.5"] {
            let text = format!("history web-app {bad}");
            assert!(refusal(&text).contains("not a number of entries"), "{text}");
        }
        assert!(refusal("history").contains("Which pipeline?"));
        assert!(refusal("history web-app 5 more").contains("Unexpected `more`"));
        assert!(refusal("history wbe-app").contains("Closest configured: `web-app`"));
        assert!(refusal("history web-app 0").contains("/deploy history <pipeline> [N]"));
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
