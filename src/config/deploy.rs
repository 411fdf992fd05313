//! `/deploy` settings: how an execution started from Slack is followed to its end. With an
//! `[events]` queue the follower reacts to CodePipeline's state-change events and polls only
//! to fill gaps; without one it polls `GetPipelineExecution` with a growing interval.

use serde::Deserialize;

use super::ConfigError;

/// The `[deploy]` section; every key has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploySettings {
    /// First wait between two polls of a followed execution.
    pub poll_initial_ms: u64,
    /// Longest wait between two polls (the interval doubles up to it); with events, the
    /// interval of the gap-filling poll.
    pub poll_max_secs: u64,
    /// How long an execution is followed at most before the thread says it stopped watching.
    pub follow_max_minutes: u64,
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            poll_initial_ms: 2000,
            poll_max_secs: 60,
            follow_max_minutes: 720,
        }
    }
}

impl DeploySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.poll_initial_ms < 100 || self.poll_initial_ms > self.poll_max_secs * 1000 {
            return Err(ConfigError::key(
                "deploy.poll_initial_ms",
                "must be at least 100 and at most poll_max_secs * 1000",
            ));
        }
        if !(1..=3600).contains(&self.poll_max_secs) {
            return Err(ConfigError::key(
                "deploy.poll_max_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=10_080).contains(&self.follow_max_minutes) {
            return Err(ConfigError::key(
                "deploy.follow_max_minutes",
                "must be between 1 and 10080 (7 days, the approval limit)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_bad_values_name_their_key() {
        assert!(DeploySettings::default().validate().is_ok());
        let too_fast = DeploySettings {
            poll_initial_ms: 10,
            ..DeploySettings::default()
        };
        let err = too_fast.validate().expect_err("10 ms").to_string();
        assert!(err.contains("deploy.poll_initial_ms"), "{err}");
        let forever = DeploySettings {
            follow_max_minutes: 0,
            ..DeploySettings::default()
        };
        let err = forever.validate().expect_err("0 minutes").to_string();
        assert!(err.contains("deploy.follow_max_minutes"), "{err}");
    }
}
