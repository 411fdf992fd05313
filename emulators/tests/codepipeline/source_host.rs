//! The source side: revisions shaped as a CodeStar connection shows them, and the GitHub
//! commit lookup a bot makes about them.

use emulators::codepipeline::{ActionKind, CommitAuthor, PipelineDef, GITHUB_GET_COMMIT};
use serde_json::Value;

use crate::support::harness_with;

const SHA: &str = "3f7c1e2a9b8d4c6e5f0a1b2c3d4e5f6a7b8c9d0e";

/// The default pipeline whose source is `acme/web` written by Alice.
fn written_by_alice(name: &str, topic: &str) -> PipelineDef {
    let mut def = PipelineDef::with_approval(name, topic);
    if let ActionKind::Source {
        repository, author, ..
    } = &mut def.stages[0].actions[0].kind
    {
        *repository = Some("acme/web".to_owned());
        *author = Some(CommitAuthor {
            name: "Alice Example".to_owned(),
            email: "Alice@Example.com".to_owned(),
        });
    }
    def
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("simulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn revisions_look_like_a_codestar_connection_and_their_commit_names_its_author() {
    let h = harness_with(written_by_alice).await;
    let id = h.start_through_api().await;
    h.pending(&id).await;

    let execution = h.execution(&id).await.expect("execution");
    let revision = &execution.artifact_revisions()[0];
    let summary: Value =
        serde_json::from_str(revision.revision_summary().expect("summary")).expect("JSON summary");
    assert_eq!(summary["ProviderType"], "GitHub");
    assert_eq!(
        summary["CommitMessage"],
        "Merge pull request #42 from feature/approvals"
    );
    let url = revision.revision_url().expect("url");
    assert!(url.starts_with(
        "https://us-east-1.console.aws.amazon.com/codesuite/settings/connections/redirect?"
    ));
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(url.split_once('?').map(|(_, q)| q).unwrap_or_default())
            .expect("a query");
    assert!(query.contains(&("FullRepositoryId".into(), "acme/web".into())));
    assert!(query.contains(&("Commit".into(), SHA.into())));
    assert!(query.contains(&("referenceType".into(), "COMMIT".into())));

    let declaration = h.declaration().await;
    let source = &declaration.stages()[0].actions()[0];
    let configuration = source.configuration().expect("configuration");
    assert_eq!(
        configuration.get("FullRepositoryId").map(String::as_str),
        Some("acme/web")
    );

    let base = h.sim.endpoint_url();
    let (status, commit) = get(&format!("{base}/repos/acme/web/git/commits/{SHA}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(commit["sha"], SHA);
    assert_eq!(commit["author"]["email"], "Alice@Example.com");
    assert_eq!(
        commit["message"],
        "Merge pull request #42 from feature/approvals"
    );

    let (status, body) = get(&format!("{base}/repos/acme/other/git/commits/{SHA}"), None).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));
    assert_eq!(h.sim.requests(GITHUB_GET_COMMIT), 2);
}

#[tokio::test]
async fn a_private_repository_needs_the_token() {
    let h = harness_with(written_by_alice).await;
    h.sim.require_github_token("ghp_sandboxtoken");
    let url = format!("{}/repos/acme/web/git/commits/{SHA}", h.sim.endpoint_url());

    let (status, _) = get(&url, None).await;
    assert_eq!(
        status, 404,
        "a private repository looks absent without a token"
    );
    let (status, body) = get(&url, Some("ghp_wrong")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    let (status, body) = get(&url, Some("ghp_sandboxtoken")).await;
    assert_eq!(
        (status, body["author"]["name"].as_str()),
        (200, Some("Alice Example"))
    );
}

#[tokio::test]
async fn pygithub_reads_commits_and_the_rate_limit_and_tells_the_errors_apart() {
    let python = std::env::var("CHATOPS_PYTHON").expect(
        "CHATOPS_PYTHON must name a Python interpreter with PyGithub installed \
         (e.g. a venv's bin/python); this test never skips",
    );
    let h = harness_with(written_by_alice).await;
    h.sim.require_github_token("ghp_sandboxtoken");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/github_check.py");
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .args([
            &h.sim.endpoint_url(),
            "ghp_sandboxtoken",
            "acme/web",
            SHA,
            "Alice@Example.com",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run CHATOPS_PYTHON={python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("GITHUB_OK"),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(h.sim.requests(GITHUB_GET_COMMIT), 3);
}
