//! Who may run a command, and where. Every command that reads or acts on something checks
//! these rules before it does anything:
//!
//! - `/deploy` naming a pipeline: in the pipeline's channel, its `command_channels`, or a direct
//!   message when `command_in_dm`; `status`, `history` and `list` by its approvers (of any of
//!   its actions too), deployers and viewers; `start` and `stop` by its deployers.
//! - `/redshift-alerts`: by the `[[redshift_alerts.access]]` grants of the channel, for their
//!   clusters; no grant, no question.
//! - `/deploy help` and `/version` read nothing that is not the user's own: anyone, anywhere.
//!
//! The channel scope is pure and answered in the ack. A user group's members need Slack
//! (`usergroups.users.list`, cached by the approvals' [`crate::approvals::Approvals::access`]),
//! so membership is settled after the ack. Every refusal is logged with the user and the command
//! ([`refused`]).

use std::collections::{BTreeSet, HashSet};

use crate::config::{AccessGrant, PipelineSettings};
use crate::ids::{ChannelId, UserGroupId, UserId};

/// Whether `channel` is a direct message with the bot: Slack's IM conversation ids start with
/// `D` (<https://api.slack.com/types/im>).
pub fn is_dm(channel: &ChannelId) -> bool {
    channel.as_str().starts_with('D')
}

/// Logs a refusal with who asked for what (the reason is what the user is told).
pub fn refused(command: &str, user: &UserId, channel: &ChannelId, reason: &str) {
    tracing::info!(
        command = %crate::ids::shorten(command),
        %user,
        %channel,
        reason = %crate::outbound::slack::mrkdwn::cut(reason, 200),
        "command refused"
    );
}

/// Whether `/deploy` may name `pipeline` in `channel`.
pub fn pipeline_in_scope(pipeline: &PipelineSettings, channel: &ChannelId) -> bool {
    pipeline.channel == *channel
        || pipeline.command_channels.contains(channel)
        || (pipeline.command_in_dm && is_dm(channel))
}

/// What a user is told when `/deploy` names `pipeline` out of its scope.
pub fn out_of_scope(pipeline: &PipelineSettings, channel: &ChannelId) -> String {
    let place = if is_dm(channel) {
        "in a direct message"
    } else {
        "in this channel"
    };
    format!(
        "`/deploy` does not act on `{}` {place}; use it in <#{}>. Nothing was done.",
        pipeline.name, pipeline.channel
    )
}

/// Who may read `pipeline`'s state: its approvers (of the pipeline, and of any of its
/// actions), deployers and viewers (users, groups).
pub fn viewers(pipeline: &PipelineSettings) -> (Vec<UserId>, Vec<UserGroupId>) {
    let actions = &pipeline.actions;
    let users = [
        &pipeline.approver_users,
        &pipeline.deployer_users,
        &pipeline.viewer_users,
    ]
    .into_iter()
    .chain(actions.iter().filter_map(|a| a.approver_users.as_ref()));
    let groups = [
        &pipeline.approver_groups,
        &pipeline.deployer_groups,
        &pipeline.viewer_groups,
    ]
    .into_iter()
    .chain(actions.iter().filter_map(|a| a.approver_groups.as_ref()));
    (
        users.flatten().cloned().collect(),
        groups.flatten().cloned().collect(),
    )
}

/// The clusters a user may ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clusters {
    All,
    Only(BTreeSet<String>),
}

impl Clusters {
    /// Whether `cluster` is among them.
    pub fn allows(&self, cluster: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(cluster),
        }
    }
}

/// The grants that apply in `channel`.
pub fn grants_in<'a>(grants: &'a [AccessGrant], channel: &ChannelId) -> Vec<&'a AccessGrant> {
    grants
        .iter()
        .filter(|g| g.channels.contains(channel) || (g.allow_dm && is_dm(channel)))
        .collect()
}

/// What `grants` give `user`, counting the groups in `member_of` as the ones `user` is in;
/// `None`: nothing.
pub fn clusters_allowed(
    grants: &[&AccessGrant],
    user: &UserId,
    member_of: &HashSet<UserGroupId>,
) -> Option<Clusters> {
    let admitted = grants.iter().filter(|g| {
        (g.users.is_empty() && g.groups.is_empty())
            || g.users.contains(user)
            || g.groups.iter().any(|group| member_of.contains(group))
    });
    let mut names = BTreeSet::new();
    let mut any = false;
    for grant in admitted {
        if grant.clusters.is_empty() {
            return Some(Clusters::All);
        }
        any = true;
        names.extend(grant.clusters.iter().cloned());
    }
    any.then_some(Clusters::Only(names))
}

/// The user groups whose members must be read before [`clusters_allowed`] is final: none when
/// what `user` is given without them is already every cluster.
pub fn groups_to_check(grants: &[&AccessGrant], user: &UserId) -> Vec<UserGroupId> {
    if clusters_allowed(grants, user, &HashSet::new()) == Some(Clusters::All) {
        return Vec::new();
    }
    let mut groups: Vec<UserGroupId> = grants
        .iter()
        .filter(|g| !g.users.contains(user))
        .flat_map(|g| g.groups.iter().cloned())
        .collect();
    groups.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: &str) -> ChannelId {
        ChannelId::parse(id).expect("channel")
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).expect("user")
    }

    fn group(id: &str) -> UserGroupId {
        UserGroupId::parse(id).expect("group")
    }

    fn pipeline(extra: &str) -> PipelineSettings {
        let text = format!(
            "name = \"web-app\"\nchannel = \"C0DEPLOYS\"\napprover_users = [\"U0ALICE\"]\n{extra}"
        );
        toml::from_str(&text).expect("pipeline settings")
    }

    fn grant(text: &str) -> AccessGrant {
        toml::from_str(text).expect("grant")
    }

    #[test]
    fn a_pipeline_is_named_in_its_channel_and_its_command_channels_and_a_dm_only_when_allowed() {
        let plain = pipeline("");
        assert!(pipeline_in_scope(&plain, &channel("C0DEPLOYS")));
        assert!(!pipeline_in_scope(&plain, &channel("C0RANDOM")));
        assert!(!pipeline_in_scope(&plain, &channel("D0ALICE")));
        let text = out_of_scope(&plain, &channel("D0ALICE"));
        assert!(text.contains("in a direct message"), "{text}");
        assert!(text.contains("<#C0DEPLOYS>"), "{text}");

        let wider = pipeline("command_channels = [\"C0RANDOM\"]\ncommand_in_dm = true");
        assert!(pipeline_in_scope(&wider, &channel("C0RANDOM")));
        assert!(pipeline_in_scope(&wider, &channel("D0ALICE")));
        assert!(!pipeline_in_scope(&wider, &channel("C0OTHER")));
    }

    #[test]
    fn viewers_are_approvers_of_the_pipeline_and_its_actions_deployers_and_configured_viewers() {
        let p = pipeline(
            "approver_groups = [\"S0REL\"]\ndeployer_users = [\"U0DEP\"]\nviewer_users = [\"U0VIEW\"]\nviewer_groups = [\"S0OPS\"]\n[[actions]]\nstage = \"Prod\"\naction = \"Approve\"\napprover_users = [\"U0CAROL\"]",
        );
        let (users, groups) = viewers(&p);
        assert_eq!(
            users,
            [
                user("U0ALICE"),
                user("U0DEP"),
                user("U0VIEW"),
                user("U0CAROL")
            ]
        );
        assert_eq!(groups, [group("S0REL"), group("S0OPS")]);
    }

    #[test]
    fn grants_apply_in_their_channels_and_in_a_dm_only_with_allow_dm() {
        let grants = [
            grant("channels = [\"C0DBA\"]"),
            grant("channels = [\"C0OPS\"]\nallow_dm = true"),
        ];
        assert_eq!(grants_in(&grants, &channel("C0DBA")), [&grants[0]]);
        assert_eq!(grants_in(&grants, &channel("D0ALICE")), [&grants[1]]);
        assert!(grants_in(&grants, &channel("C0RANDOM")).is_empty());
        assert!(grants_in(&[], &channel("C0DBA")).is_empty());
    }

    #[test]
    fn the_admitting_grants_add_up_their_clusters_and_an_open_one_gives_all() {
        let alice = user("U0ALICE");
        let none = HashSet::new();
        let etl = grant("channels = [\"C0DBA\"]\nusers = [\"U0ALICE\"]\nclusters = [\"etl-prod\"]");
        let bi = grant("channels = [\"C0DBA\"]\ngroups = [\"S0BI\"]\nclusters = [\"bi-prod\"]");
        let everyone = grant("channels = [\"C0DBA\"]");
        let only = |names: &[&str]| {
            Some(Clusters::Only(
                names.iter().map(|n| (*n).to_owned()).collect(),
            ))
        };

        assert_eq!(
            clusters_allowed(&[&etl, &bi], &alice, &none),
            only(&["etl-prod"])
        );
        let in_bi = HashSet::from([group("S0BI")]);
        assert_eq!(
            clusters_allowed(&[&etl, &bi], &alice, &in_bi),
            only(&["bi-prod", "etl-prod"])
        );
        assert_eq!(clusters_allowed(&[&bi], &alice, &none), None);
        assert_eq!(clusters_allowed(&[], &alice, &none), None);
        assert_eq!(
            clusters_allowed(&[&etl, &everyone], &user("U0MALLORY"), &none),
            Some(Clusters::All)
        );
        assert!(only(&["etl-prod"]).is_some_and(|c| c.allows("etl-prod") && !c.allows("bi-prod")));
    }

    #[test]
    fn groups_are_checked_only_when_they_could_give_more() {
        let alice = user("U0ALICE");
        let etl = grant("channels = [\"C0DBA\"]\nusers = [\"U0ALICE\"]\nclusters = [\"etl-prod\"]");
        let bi = grant("channels = [\"C0DBA\"]\ngroups = [\"S0BI\", \"S0ETL\"]");
        let open = grant("channels = [\"C0DBA\"]");
        assert_eq!(
            groups_to_check(&[&etl, &bi], &alice),
            [group("S0BI"), group("S0ETL")]
        );
        assert!(groups_to_check(&[&open, &bi], &alice).is_empty());
        assert!(groups_to_check(&[&etl], &alice).is_empty());
    }
}
