//! Who may decide a pipeline's approvals: its configured users, and the members of its
//! configured user groups (`usergroups.users.list`, cached for a configured time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::policy::Policy;
use crate::ids::{UserGroupId, UserId};
use crate::outbound::slack::{SlackError, SlackWeb};

/// A group's members and when they were read.
type CachedMembers = (Instant, Arc<Vec<UserId>>);

/// Membership checks with a user-group cache; shared by every click.
pub struct Access {
    slack: SlackWeb,
    ttl: Duration,
    groups: Mutex<HashMap<UserGroupId, CachedMembers>>,
}

impl Access {
    /// Checks against Slack through `slack`, trusting a group's member list for `ttl`.
    pub fn new(slack: SlackWeb, ttl: Duration) -> Self {
        Self {
            slack,
            ttl,
            groups: Mutex::new(HashMap::new()),
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
        let cached = self
            .groups
            .lock()
            .ok()
            .and_then(|g| g.get(group).cloned())
            .filter(|(at, _)| at.elapsed() < self.ttl);
        if let Some((_, members)) = cached {
            return Ok(members);
        }
        let members = Arc::new(self.slack.usergroup_members(group).await?);
        if let Ok(mut groups) = self.groups.lock() {
            groups.insert(group.clone(), (Instant::now(), members.clone()));
        }
        Ok(members)
    }
}
