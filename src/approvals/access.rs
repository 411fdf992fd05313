//! Who may decide a pipeline's approvals: its configured users, and the members of its
//! configured user groups (`usergroups.users.list`, cached for a configured time in a moka
//! cache that drops a group's members when that time has passed; every click reads the cache,
//! which is when moka drops what expired).

use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

use super::policy::Policy;
use crate::ids::{UserGroupId, UserId};
use crate::outbound::slack::{SlackError, SlackWeb};

/// Members remembered at most, over all groups (each group counts one plus its members): the
/// configured groups are far fewer, but a workspace's group may be large.
const MEMBERS_REMEMBERED: u64 = 100_000;

/// The longest time to live moka accepts (1000 years): longer is the same in practice.
const LONGEST_TTL: Duration = Duration::from_secs(1_000 * 365 * 24 * 3600);

/// Membership checks with a user-group cache; shared by every click.
pub struct Access {
    slack: SlackWeb,
    groups: Cache<UserGroupId, Arc<Vec<UserId>>>,
}

impl Access {
    /// Checks against Slack through `slack`, trusting a group's member list for `ttl`.
    pub fn new(slack: SlackWeb, ttl: Duration) -> Self {
        Self {
            slack,
            groups: Cache::builder()
                .max_capacity(MEMBERS_REMEMBERED)
                .weigher(|_, members: &Arc<Vec<UserId>>| {
                    u32::try_from(members.len()).map_or(u32::MAX, |n| n.saturating_add(1))
                })
                .time_to_live(ttl.min(LONGEST_TTL))
                .build(),
        }
    }

    /// Whether `user` is one of `policy`'s approvers.
    ///
    /// # Errors
    /// A user group's members could not be read (the caller denies).
    pub async fn may_approve(
        &self,
        policy: &Policy<'_>,
        user: &UserId,
    ) -> Result<bool, SlackError> {
        self.is_member(policy.approver_users, policy.approver_groups, user)
            .await
    }

    /// Whether `user` is one of `users` or a member of one of `groups` (also `/deploy`'s
    /// deployers).
    ///
    /// # Errors
    /// A user group's members could not be read (the caller denies).
    pub async fn is_member(
        &self,
        users: &[UserId],
        groups: &[UserGroupId],
        user: &UserId,
    ) -> Result<bool, SlackError> {
        if users.contains(user) {
            return Ok(true);
        }
        for group in groups {
            if self.members(group).await?.contains(user) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn members(&self, group: &UserGroupId) -> Result<Arc<Vec<UserId>>, SlackError> {
        if let Some(members) = self.groups.get(group) {
            return Ok(members);
        }
        let members = Arc::new(self.slack.usergroup_members(group).await?);
        self.groups.insert(group.clone(), members.clone());
        Ok(members)
    }
}
