//! No Nagle delays (issue 13, point 3): every TCP connection the real bot holds open (Socket
//! Mode, the Slack Web API, ministack's SQS, SSM and DynamoDB, CodePipeline, GitHub) has
//! `TCP_NODELAY` on, read with `getsockopt` on the bot's own sockets.

use emulators::codepipeline::GITHUB_GET_COMMIT;

use crate::support::approvals::{authored_by_carol_as, APPROVE};
use crate::support::process::{finish, tcp_connections};
use crate::support::{Bot, ALICE};

/// The port of an `http://host:port/…` URL.
fn port(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or_else(|| panic!("a port in {url}"))
}

#[tokio::test]
async fn every_connection_the_bot_holds_has_tcp_nodelay_on() {
    let mut bot = Bot::prepare(false).await;
    // A source revision on GitHub, so that the prompt reads its commit through the GitHub
    // client (served by the CodePipeline simulator, on its port).
    let def = authored_by_carol_as(&bot, "carol@example.com");
    bot.codepipeline.create_pipeline(def);
    bot.config_toml.push_str(&format!(
        "\n[approvals.revision_authors]\ngithub_api_url = \"{}\"\nusers = {{}}\n",
        bot.codepipeline.endpoint_url()
    ));
    let running = bot.start_process(2, &[]).await;
    // A prompt (SQS, CodePipeline, GitHub, chat.postMessage), a click (DynamoDB is not
    // configured; PutApprovalResult, chat.update): every client has connected once.
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
    assert_eq!(bot.codepipeline.requests(GITHUB_GET_COMMIT), 1);

    let pid = running.child.id().expect("the bot's pid");
    let connections = tcp_connections(pid);
    let slack_api = port(&bot.slack.api_url());
    let codepipeline = port(&bot.codepipeline.endpoint_url());
    let ministack = port(&emulators::ministack::url_from_env());
    let to = |wanted: &dyn Fn(u16) -> bool| {
        connections
            .iter()
            .filter(|(peer, _)| wanted(peer.port()))
            .count()
    };
    assert!(
        to(&|p| p == slack_api) > 0,
        "Slack Web API: {connections:?}"
    );
    assert!(
        to(&|p| p == codepipeline) > 0,
        "CodePipeline: {connections:?}"
    );
    assert!(to(&|p| p == ministack) > 0, "ministack: {connections:?}");
    let socket_mode = to(&|p| ![slack_api, codepipeline, ministack].contains(&p));
    assert_eq!(socket_mode, 2, "the Socket Mode sockets: {connections:?}");
    let delayed: Vec<_> = connections.iter().filter(|(_, nodelay)| !nodelay).collect();
    assert!(delayed.is_empty(), "without TCP_NODELAY: {delayed:?}");

    running.signal("TERM").await;
    let (status, _, stderr) = finish(running).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}
