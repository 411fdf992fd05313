//! The slash-command registry over Socket Mode: the ack carries the immediate reply.

use crate::support::{Bot, Options, ALICE, CHANNEL, DEADLINE};

#[tokio::test]
async fn an_unknown_command_is_answered_in_the_ack_only_to_its_user() {
    let bot = Bot::spawn(Options::default()).await;

    let envelope = bot
        .slack
        .slash_command(CHANNEL, ALICE, "/nope", "anything")
        .await
        .expect("delivered");

    let ack = envelope.acked(DEADLINE).await.expect("acked");
    let payload = ack.payload.expect("the ack carries a reply");
    assert_eq!(payload["response_type"], "ephemeral");
    let text = payload["text"].as_str().unwrap_or_default();
    assert!(text.contains("`/nope` is not a command"), "{text}");
}
