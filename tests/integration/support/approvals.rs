//! Steps of the approval flow a test repeats: the reason modal (open it, submit it as a raw
//! `view_submission`), thread replies, and an events queue for CodePipeline's state changes.

use emulators::codepipeline::{ActionKind, CommitAuthor, EventTarget, PipelineDef};
use emulators::ministack::create_topic_queue;
use emulators::slack::{Ack, Message};
use emulators::testing::eventually;
use serde_json::{json, Value};

use super::{aws, Bot, Options, CHANNEL, DEADLINE};

/// The one-click "Approve".
pub const APPROVE: &str = "approval:approve";
/// "Approve…": the modal with an optional comment.
pub const APPROVE_WITH_REASON: &str = "approval:approve_reason";
/// "Reject…": the modal with a required reason.
pub const REJECT: &str = "approval:reject";

/// The test's pipeline, with a manual approval notifying its topic, whose source revision Carol
/// wrote (as `email`) in the GitHub repository `acme/web`.
pub fn authored_by_carol_as(bot: &Bot, email: &str) -> PipelineDef {
    let mut def = PipelineDef::with_approval(&bot.pipeline, &bot.aws.topic_arn);
    if let ActionKind::Source {
        repository, author, ..
    } = &mut def.stages[0].actions[0].kind
    {
        *repository = Some("acme/web".into());
        *author = Some(CommitAuthor {
            name: "Carol".into(),
            email: email.into(),
        });
    }
    def
}

impl Bot {
    /// Clicks `button` ("Approve…" or "Reject…") as `user` and waits for the modal it opens.
    pub async fn open_modal(&self, ts: &str, button: &str, user: &str) -> Value {
        let before = self.slack.views_opened().len();
        self.click(ts, button, user).await;
        eventually(DEADLINE, "the reason modal", || async {
            self.slack.views_opened().into_iter().nth(before)
        })
        .await
    }

    /// Opens the reason modal of the prompt at `ts` ("Reject…") as `user`; the modal and its
    /// `private_metadata` as the bot signed it (`<tag>.<metadata>`).
    pub async fn signed_reason_form(&self, ts: &str, user: &str) -> (Value, String) {
        let modal = self.open_modal(ts, REJECT, user).await;
        let signed = modal["private_metadata"]
            .as_str()
            .expect("metadata")
            .to_owned();
        (modal, signed)
    }

    /// Submits `view` as `user` with `comment` in its input; returns the ack.
    pub async fn submit(&self, view: &Value, user: &str, comment: Option<&str>) -> Ack {
        let mut view = view.clone();
        view["state"] = json!({"values": {"reason": {"comment":
            {"type": "plain_text_input", "value": comment}}}});
        let team = view["team_id"].clone();
        let payload = json!({
            "type": "view_submission",
            "team": {"id": team, "domain": "emulated"},
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(),
                     "team_id": team},
            "api_app_id": view["app_id"],
            "token": "emulated-verification-token",
            "trigger_id": "1.2.3",
            "view": view,
        });
        let envelope = self
            .slack
            .send_envelope("interactive", payload, true)
            .await
            .expect("view_submission delivered");
        envelope
            .acked(DEADLINE)
            .await
            .expect("the submission was acknowledged")
    }

    /// Rejects the prompt at `ts` as `user` through the modal, with `reason`.
    pub async fn reject(&self, ts: &str, user: &str, reason: &str) {
        let view = self.open_modal(ts, REJECT, user).await;
        let ack = self.submit(&view, user, Some(reason)).await;
        assert_eq!(ack.payload, None, "a valid submission closes the modal");
    }

    /// Approves or rejects the pending approval as a person in the console would.
    pub fn decide_in_console(&self, approved: bool, summary: &str) {
        let pending = self
            .codepipeline
            .pending_approval(&self.pipeline)
            .expect("a pending approval");
        self.codepipeline
            .decide_in_console(&self.pipeline, &pending.token, approved, summary)
            .expect("console decision");
    }

    /// Waits until `execution` has `status` (`Succeeded`, `Failed`, …).
    pub async fn wait_for_execution(&self, execution: &str, status: &str) {
        eventually(
            DEADLINE,
            &format!("the execution to be {status}"),
            || async {
                (self
                    .codepipeline
                    .execution_status(&self.pipeline, execution)
                    .as_deref()
                    == Some(status))
                .then_some(())
            },
        )
        .await;
    }

    /// Thread replies under the prompt at `ts`.
    pub fn replies(&self, ts: &str) -> Vec<Message> {
        self.slack
            .messages(CHANNEL)
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(ts))
            .collect()
    }

    /// Waits for an audit reply under `ts` whose record has this `outcome`; returns the record.
    pub async fn audit_record(&self, ts: &str, outcome: &str) -> Value {
        eventually(DEADLINE, &format!("an audit reply {outcome:?}"), || async {
            self.replies(ts).into_iter().find_map(|m| {
                let text = m.blocks[1]["elements"][0]["text"].as_str()?.to_owned();
                let json = text.strip_prefix("```")?.strip_suffix("```")?;
                let record: Value = serde_json::from_str(json).ok()?;
                (record["outcome"] == outcome).then_some(record)
            })
        })
        .await
    }
}

/// Options with an events queue on ministack (raw delivery: the body is the event itself)
/// and, once the bot runs, the simulator publishing to its topic: see [`publish_events`].
pub async fn with_events(mut options: Options, raw: bool) -> (Options, String) {
    let config = aws::sdk_config().await;
    let name = format!("cp-events-{}", uuid::Uuid::new_v4().simple());
    let events = create_topic_queue(&config, &name, raw)
        .await
        .expect("events topic and queue");
    options.env.extend([
        ("CHATOPS__EVENTS__QUEUE_URL".to_owned(), events.queue_url),
        ("CHATOPS__EVENTS__WAIT_TIME_SECS".to_owned(), "1".to_owned()),
    ]);
    (options, events.topic_arn)
}

/// Makes the simulator publish its state-change events to `topic_arn`.
pub fn publish_events(bot: &Bot, topic_arn: &str) {
    bot.codepipeline
        .publish_events_to(EventTarget::Sns(topic_arn.to_owned()));
}
