//! Who may not approve, read from outside: the Slack users who wrote the revisions an execution
//! promotes, read from GitHub (CodeStar connection revisions whose provider is `GitHub` or
//! `GitHubEnterpriseServer`) and matched by commit e-mail through
//! `[approvals.revision_authors]`, and the starter read afresh from CodePipeline's trigger at a
//! click. An authors lookup that fails or is slow is logged and skipped: it never holds back a
//! prompt or a click. A starter lookup that fails refuses an approval (fail closed).

use std::time::Duration;

use super::{ApprovalRef, Approvals};
use crate::ids::UserId;
use crate::outbound::codepipeline::ExecutionContext;

/// How long the authors of one execution may take to read.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Providers whose revisions GitHub's API can describe.
const GITHUB_PROVIDERS: [&str; 2] = ["GitHub", "GitHubEnterpriseServer"];

impl Approvals {
    /// The Slack users who wrote `context`'s revisions (none unless configured).
    pub(super) async fn authors(&self, context: &ExecutionContext) -> Vec<UserId> {
        let (Some(github), Some(settings)) = (
            &self.clients.github,
            &self.settings.approvals.revision_authors,
        ) else {
            return Vec::new();
        };
        let lookups = context.revisions.iter().filter_map(|r| {
            let source = r
                .source
                .as_ref()
                .filter(|s| GITHUB_PROVIDERS.contains(&s.provider.as_str()))?;
            let commit = r.revision_id.as_deref()?;
            Some(async move {
                let email = github.commit_author_email(&source.repository, commit).await;
                (source.repository.as_str(), commit, email)
            })
        });
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, futures_util::future::join_all(lookups));
        let Ok(found) = found.await else {
            tracing::warn!(execution_id = %context.execution_id, "revision authors timed out; no author is excluded");
            return Vec::new();
        };
        let mut users: Vec<UserId> = Vec::new();
        for (repository, commit, email) in found {
            match email.map(|e| settings.user_of(&e).cloned()) {
                Ok(Some(user)) if !users.contains(&user) => users.push(user),
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::info!(
                        repository,
                        commit,
                        "the revision's author has no configured Slack user"
                    );
                }
                Err(error) => {
                    tracing::warn!(repository, commit, %error, "revision author unknown; not excluded");
                }
            }
        }
        users
    }

    /// Who started the execution waiting at `approval`, read afresh from CodePipeline's trigger
    /// (for a click on a prompt posted without it, or not posted by this bot).
    ///
    /// # Errors
    /// CodePipeline could not say in time.
    pub(super) async fn starter_now(
        &self,
        approval: &ApprovalRef,
    ) -> anyhow::Result<Option<UserId>> {
        let lookup = self.clients.codepipeline.execution_context(approval.at());
        let context = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .map_err(|_| anyhow::anyhow!("the execution context lookup timed out"))??;
        // Started from `/deploy`, the trigger names the bot's own role: the noted Slack user
        // is the starter.
        let noted = self.records.starter(&context.execution_id).await?;
        Ok(super::policy::starter(
            noted,
            context.started_by.as_deref(),
            &self.settings.approvals.principals,
        ))
    }

    /// The authors of the execution waiting at `approval`, read afresh (for a click on a
    /// prompt this process did not post). Empty unless configured.
    pub(super) async fn authors_of(&self, approval: &ApprovalRef) -> Vec<UserId> {
        if self.clients.github.is_none() {
            return Vec::new();
        }
        let lookup = self.clients.codepipeline.execution_context(approval.at());
        match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
            Ok(Ok(context)) => self.authors(&context).await,
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "no execution context for the authors check");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("execution context lookup timed out; no author is excluded");
                Vec::new()
            }
        }
    }
}
