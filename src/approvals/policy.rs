//! The policy of one approval action: the pipeline's settings with that action's overrides
//! applied, and who started an execution. Pure: no I/O.

use std::collections::HashMap;

use super::ApprovalRef;
use crate::config::PipelineSettings;
use crate::ids::{ChannelId, UserGroupId, UserId};
use crate::outbound::slack::mrkdwn::{join, mentions, Mention};

/// Who may decide one approval action, where, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy<'a> {
    pub approver_users: &'a [UserId],
    pub approver_groups: &'a [UserGroupId],
    /// Channels where the prompt may be acted on; empty: where the bot posted it.
    pub act_in_channels: &'a [ChannelId],
    /// Distinct approvers needed.
    pub quorum: u8,
    /// Whether the one-click "Approve" is offered.
    pub one_click_approve: bool,
}

impl<'a> Policy<'a> {
    /// `pipeline`'s policy for the action `approval` names.
    pub fn of(pipeline: &'a PipelineSettings, approval: &ApprovalRef) -> Self {
        let action = pipeline
            .actions
            .iter()
            .find(|a| a.stage == approval.stage && a.action == approval.action);
        Self {
            approver_users: action
                .and_then(|a| a.approver_users.as_deref())
                .unwrap_or(&pipeline.approver_users),
            approver_groups: action
                .and_then(|a| a.approver_groups.as_deref())
                .unwrap_or(&pipeline.approver_groups),
            act_in_channels: action
                .and_then(|a| a.act_in_channels.as_deref())
                .unwrap_or(&pipeline.act_in_channels),
            quorum: action.and_then(|a| a.quorum).unwrap_or(pipeline.quorum),
            one_click_approve: action
                .and_then(|a| a.one_click_approve)
                .unwrap_or(pipeline.one_click_approve),
        }
    }

    /// Whether the prompt may be acted on in `channel`; `posted_in` is where the bot posted it,
    /// if known.
    pub fn allows_channel(&self, channel: &ChannelId, posted_in: Option<&ChannelId>) -> bool {
        if self.act_in_channels.is_empty() {
            posted_in.is_none_or(|p| p == channel)
        } else {
            self.act_in_channels.contains(channel)
        }
    }

    /// The approvers as Slack mentions, for a refusal.
    pub fn approvers_mention(&self) -> String {
        mentions(self.approver_users, self.approver_groups, "nobody")
    }

    /// The channels as Slack mentions, for a refusal.
    pub fn channels_mention(&self, posted_in: Option<&ChannelId>) -> String {
        let posted = posted_in.filter(|_| self.act_in_channels.is_empty());
        join(
            self.act_in_channels
                .iter()
                .chain(posted)
                .map(Mention::Channel),
            "the channel it was posted in",
        )
    }
}

/// The Slack user who started an execution: noted by `/deploy`, else the configured user of
/// the AWS principal that started it (`trigger.triggerDetail`).
pub fn starter(
    noted: Option<UserId>,
    started_by: Option<&str>,
    principals: &HashMap<String, UserId>,
) -> Option<UserId> {
    noted.or_else(|| started_by.and_then(|p| principals.get(p).cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    /// The documented example: `web-app` has no overrides, `billing-service` overrides its
    /// `Production/ReleaseApproval` action.
    const EXAMPLE: &str = include_str!("../../config/chatops.example.toml");

    fn settings(text: &str) -> Result<Settings, crate::config::ConfigError> {
        Settings::parse(text, "example", Vec::new())
    }

    fn channel(id: &str) -> ChannelId {
        ChannelId::parse(id).expect("channel")
    }

    fn approval(stage: &str, action: &str) -> ApprovalRef {
        let mut r = crate::approvals::notification::parse(include_str!(
            "../../tests/fixtures/approval-raw.json"
        ))
        .expect("fixture")
        .approval;
        r.stage = crate::ids::StageName::parse(stage).expect("stage");
        r.action = crate::ids::ActionName::parse(action).expect("action");
        r
    }

    #[test]
    fn an_action_without_overrides_takes_the_pipeline_policy() {
        let s = settings(EXAMPLE).expect("valid");
        let p = Policy::of(&s.pipelines[1], &approval("Staging", "ReleaseApproval"));
        assert_eq!(p.quorum, 1);
        assert!(p.one_click_approve);
        assert_eq!(p.approvers_mention(), "<@U0123ABCDE>, <@W0456FGHIJ>");
        let (posted, other) = (channel("C0987654321"), channel("C0OTHER"));
        assert!(p.allows_channel(&posted, Some(&posted)));
        assert!(!p.allows_channel(&other, Some(&posted)));
    }

    #[test]
    fn an_action_override_replaces_only_what_it_sets() {
        let s = settings(EXAMPLE).expect("valid");
        let p = Policy::of(&s.pipelines[1], &approval("Production", "ReleaseApproval"));
        assert_eq!(p.quorum, 2);
        assert!(!p.one_click_approve);
        assert_eq!(
            p.approvers_mention(),
            "<@U0123ABCDE>, <@W0456FGHIJ>, <!subteam^S0789RELEASE>"
        );
        let (release, thread) = (channel("C0987654321"), channel("C0THREAD"));
        assert!(p.allows_channel(&release, Some(&thread)));
        assert!(!p.allows_channel(&thread, Some(&thread)));
        assert_eq!(p.channels_mention(Some(&thread)), "<#C0987654321>");
    }

    #[test]
    fn the_starter_is_the_noted_user_or_the_mapped_principal() {
        let s = settings(EXAMPLE).expect("valid");
        let principals = &s.approvals.principals;
        let alice = UserId::parse("U0123ABCDE").expect("id");
        let bob = UserId::parse("U0BOB").expect("id");
        let arn = "arn:aws:iam::123456789012:user/alice";
        assert_eq!(starter(None, Some(arn), principals), Some(alice));
        assert_eq!(starter(Some(bob.clone()), Some(arn), principals), Some(bob));
        assert_eq!(starter(None, Some("arn:other"), principals), None);
    }

    #[test]
    fn a_quorum_out_of_range_or_a_duplicate_action_is_refused() {
        for quorum in ["quorum = 11", "quorum = 0"] {
            let text = EXAMPLE.replacen("quorum = 2\n", &format!("{quorum}\n"), 1);
            let err = settings(&text).expect_err("invalid").to_string();
            assert!(err.contains("pipelines[1].actions[0].quorum"), "{err}");
        }
        let twice = format!(
            "{EXAMPLE}\n[[pipelines.actions]]\nstage = \"Production\"\naction = \"ReleaseApproval\"\n"
        );
        let err = settings(&twice).expect_err("duplicate").to_string();
        assert!(err.contains("pipelines[1].actions[1].action"), "{err}");
    }
}
