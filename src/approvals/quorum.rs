//! Votes per token: an approval action may need N distinct approvers; any one rejection decides
//! at once. Also the CodePipeline summary naming everyone involved. Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::Decision;
use super::Outcome;
use crate::ids::UserId;
use crate::outbound::codepipeline::SUMMARY_MAX;

/// One person's approval or rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub user: UserId,
    pub name: Option<String>,
    pub comment: Option<String>,
}

/// Where a token stands, for every process (kept in the shared records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenState {
    /// Approvals counted so far, short of the quorum.
    Voting(Vec<Vote>),
    /// A decision by `user` is being recorded in CodePipeline; `votes` were counted before it.
    /// Held until `until` (epoch seconds): a process that died holding it is replaced then.
    InFlight {
        user: UserId,
        votes: Vec<Vote>,
        until: i64,
    },
    /// The prompt was closed with this outcome.
    Closed(Outcome),
}

/// What a vote leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Send `PutApprovalResult` now; `votes` are the approvals so far (this one included when
    /// approving).
    Decide { votes: Vec<Vote> },
    /// Counted; `votes` of `quorum` so far.
    Counted { votes: Vec<Vote> },
    /// This person approved already.
    AlreadyVoted,
    /// Someone else's decision is being recorded.
    InFlight(UserId),
    /// Closed already.
    Closed(Outcome),
}

/// One attempt: `vote` for `decision` under a quorum of `quorum`.
#[derive(Debug, Clone)]
pub struct Ballot {
    pub decision: Decision,
    pub vote: Vote,
    pub quorum: u8,
}

/// Applies `ballot` to the token's `state` at `now` (epoch seconds); a decision it starts is
/// held until `hold_until`. Returns what to do and the token's new state.
pub fn claim(
    state: Option<&TokenState>,
    ballot: &Ballot,
    now: i64,
    hold_until: i64,
) -> (Claim, Option<TokenState>) {
    let votes = match state {
        None => Vec::new(),
        Some(TokenState::Voting(v)) => v.clone(),
        Some(TokenState::InFlight { user, until, .. }) if *until > now => {
            return (Claim::InFlight(user.clone()), None)
        }
        // Its holder died or hangs: the votes counted before it stand.
        Some(TokenState::InFlight { votes, .. }) => votes.clone(),
        Some(TokenState::Closed(o)) => return (Claim::Closed(o.clone()), None),
    };
    let (decision, vote, quorum) = (ballot.decision, ballot.vote.clone(), ballot.quorum);
    let user = vote.user.clone();
    match decision {
        Decision::Reject => (
            Claim::Decide {
                votes: votes.clone(),
            },
            Some(TokenState::InFlight {
                user,
                votes,
                until: hold_until,
            }),
        ),
        Decision::Approve if votes.iter().any(|v| v.user == user) => (Claim::AlreadyVoted, None),
        Decision::Approve => {
            let before = votes.clone();
            let mut after = votes;
            after.push(vote);
            if after.len() >= usize::from(quorum) {
                (
                    Claim::Decide { votes: after },
                    Some(TokenState::InFlight {
                        user,
                        votes: before,
                        until: hold_until,
                    }),
                )
            } else {
                (
                    Claim::Counted {
                        votes: after.clone(),
                    },
                    Some(TokenState::Voting(after)),
                )
            }
        }
    }
}

/// `"1 of 2 approvals: <@U1>"`.
pub fn progress_line(votes: &[Vote], quorum: u8) -> String {
    format!(
        "{} of {quorum} approvals: {}",
        votes.len(),
        mentions(votes.iter())
    )
}

/// Slack mentions of the voters.
pub fn mentions<'a>(votes: impl Iterator<Item = &'a Vote>) -> String {
    votes
        .map(|v| format!("<@{}>", v.user))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `PutApprovalResult` summary: who decided (names and ids), the reason, and the approvals
/// before a rejection; at most CodePipeline's 512 characters.
pub fn summary(decision: Decision, votes: &[Vote], rejecter: Option<&Vote>) -> String {
    let who = |v: &Vote| {
        format!(
            "{} ({})",
            v.name.as_deref().unwrap_or("unknown user"),
            v.user
        )
    };
    let comments = |vs: &[&Vote]| {
        vs.iter()
            .filter_map(|v| {
                v.comment
                    .as_deref()
                    .map(|c| format!("{}: {c}", v.name.as_deref().unwrap_or(v.user.as_str())))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let text = match (decision, rejecter) {
        (Decision::Reject, Some(r)) => {
            let mut s = format!("Rejected in Slack by {}", who(r));
            if let Some(c) = &r.comment {
                s.push_str(&format!(": {c}"));
            }
            if !votes.is_empty() {
                let earlier: Vec<String> = votes.iter().map(who).collect();
                s.push_str(&format!(". Approvals before: {}", earlier.join(", ")));
            }
            s
        }
        _ => {
            let names: Vec<String> = votes.iter().map(who).collect();
            let mut s = format!("Approved in Slack by {}", names.join(", "));
            let c = comments(&votes.iter().collect::<Vec<_>>());
            if !c.is_empty() {
                s.push_str(&format!(". {c}"));
            }
            s
        }
    };
    cut_chars(&text, SUMMARY_MAX)
}

/// Cuts `text` to `max` characters with an ellipsis.
fn cut_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    text.chars().take(max - 1).chain(['…']).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `claim` at time 0, holding a decision until 100.
    fn cast(
        state: Option<&TokenState>,
        decision: Decision,
        vote: Vote,
        quorum: u8,
    ) -> (Claim, Option<TokenState>) {
        let ballot = Ballot {
            decision,
            vote,
            quorum,
        };
        claim(state, &ballot, 0, 100)
    }

    fn vote(user: &str, comment: Option<&str>) -> Vote {
        Vote {
            user: UserId::parse(user).expect("id"),
            name: Some(user.to_lowercase()),
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn the_first_of_two_approvals_is_counted_and_the_second_decides() {
        let (c, s) = cast(None, Decision::Approve, vote("U0BOB", None), 2);
        assert_eq!(
            c,
            Claim::Counted {
                votes: vec![vote("U0BOB", None)]
            }
        );
        let (c, s) = cast(
            s.as_ref(),
            Decision::Approve,
            vote("U0CAROL", Some("ok")),
            2,
        );
        assert_eq!(
            c,
            Claim::Decide {
                votes: vec![vote("U0BOB", None), vote("U0CAROL", Some("ok"))]
            }
        );
        assert!(matches!(s, Some(TokenState::InFlight { votes, .. }) if votes.len() == 1));
    }

    #[test]
    fn the_same_person_counts_once() {
        let (_, s) = cast(None, Decision::Approve, vote("U0BOB", None), 2);
        let (c, s) = cast(s.as_ref(), Decision::Approve, vote("U0BOB", None), 2);
        assert_eq!((c, s), (Claim::AlreadyVoted, None));
    }

    #[test]
    fn a_rejection_during_a_half_met_quorum_decides_at_once() {
        let (_, s) = cast(None, Decision::Approve, vote("U0BOB", None), 2);
        let (c, _) = cast(s.as_ref(), Decision::Reject, vote("U0CAROL", Some("no")), 2);
        assert_eq!(
            c,
            Claim::Decide {
                votes: vec![vote("U0BOB", None)]
            }
        );
    }

    #[test]
    fn in_flight_and_closed_tokens_refuse_votes() {
        let busy = TokenState::InFlight {
            user: UserId::parse("U0BOB").expect("id"),
            votes: Vec::new(),
            until: 100,
        };
        let (c, s) = cast(Some(&busy), Decision::Approve, vote("U0CAROL", None), 1);
        assert!(matches!(c, Claim::InFlight(_)) && s.is_none());
    }

    #[test]
    fn a_decision_held_past_its_claim_is_taken_over_with_the_votes_before_it() {
        let abandoned = TokenState::InFlight {
            user: UserId::parse("U0BOB").expect("id"),
            votes: vec![vote("U0DAVE", None)],
            until: 10,
        };
        let ballot = Ballot {
            decision: Decision::Approve,
            vote: vote("U0CAROL", None),
            quorum: 2,
        };
        let (c, s) = claim(Some(&abandoned), &ballot, 11, 70);
        assert_eq!(
            c,
            Claim::Decide {
                votes: vec![vote("U0DAVE", None), vote("U0CAROL", None)]
            }
        );
        assert!(matches!(s, Some(TokenState::InFlight { until: 70, .. })));
    }

    #[test]
    fn summaries_name_everyone_and_fit_512_characters() {
        let votes = [vote("U0BOB", None), vote("U0CAROL", Some("lgtm"))];
        assert_eq!(
            summary(Decision::Approve, &votes, None),
            "Approved in Slack by u0bob (U0BOB), u0carol (U0CAROL). u0carol: lgtm"
        );
        let r = vote("U0DAVE", Some("broken"));
        assert_eq!(
            summary(Decision::Reject, &votes[..1], Some(&r)),
            "Rejected in Slack by u0dave (U0DAVE): broken. Approvals before: u0bob (U0BOB)"
        );
        let long = vote("U0DAVE", Some(&"é".repeat(2000)));
        let s = summary(Decision::Reject, &votes, Some(&long));
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.starts_with("Rejected in Slack by u0dave (U0DAVE)"));
    }

    #[test]
    fn the_progress_line_counts_and_mentions() {
        let votes = [vote("U0BOB", None)];
        assert_eq!(progress_line(&votes, 2), "1 of 2 approvals: <@U0BOB>");
    }
}
