//! The "going live" files agree with the code: the Slack app manifest's commands and scopes,
//! and the IAM policy (standalone and in the CloudFormation template) against the AWS
//! operations the code calls; the Dockerfile's base images are pinned by digest. The template
//! itself is deployed to ministack's CloudFormation; its optional ECS service is checked in
//! [`service`].

mod service;

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_cloudformation::types::{Output, Parameter, StackStatus};
use emulators::testing::eventually;

use crate::support::{aws, DEADLINE};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file under `src/`, as text.
fn sources() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).expect("read source"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(ROOT).join("src"), &mut out);
    out
}

/// SDK clients as the code names them (fields and locals).
const CLIENTS: &[&str] = &["client", "sqs", "ssm", "athena", "codepipeline"];

/// The AWS SDK operations the code calls: an operation builder opened on its own line
/// (`.receive_message()`) right after the client it is called on (`self.sqs`, `.client`).
fn sdk_operations() -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for source in sources() {
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let receiver = pair[0].rsplit(['.', ' ']).next().unwrap_or_default();
            let Some(name) = pair[1].strip_prefix('.').and_then(|l| l.strip_suffix("()")) else {
                continue;
            };
            if CLIENTS.contains(&receiver)
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !name.ends_with("_paginator")
            {
                ops.insert(iam_action(pascal(name)));
            }
        }
    }
    ops
}

/// The IAM action an operation needs: SQS's batch operations are authorised by their single
/// counterparts (`DeleteMessageBatch` needs `sqs:DeleteMessage`:
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html>).
fn iam_action(operation: String) -> String {
    match operation.strip_suffix("Batch") {
        Some(single) if single.ends_with("Message") || single.ends_with("Visibility") => {
            single.to_owned()
        }
        _ => operation,
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `service:Action` of every statement in a policy document.
fn policy_actions(document: &serde_json::Value) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for statement in document["Statement"].as_array().expect("statements") {
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                actions.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)));
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).expect("read file")
}

/// A YAML value with a CloudFormation tag, e.g. `!Ref DesiredCount`.
fn tagged(yaml: &str) -> serde_yaml::Value {
    serde_yaml::from_str(yaml).expect("yaml")
}

fn template() -> serde_yaml::Value {
    serde_yaml::from_str(&read("config/chatops.cfn.yaml")).expect("template parses")
}

/// Permissions the code needs without calling them itself: KMS behind SecureString reads, and
/// Glue and S3 behind Athena queries.
const INDIRECT: &[&str] = &["kms:", "glue:", "s3:"];

/// The `FROM` lines of a Dockerfile as (image, stage name): `FROM [--flag=…] image [AS name]`.
fn from_lines(dockerfile: &str) -> Vec<(&str, Option<&str>)> {
    dockerfile
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if !words.next()?.eq_ignore_ascii_case("FROM") {
                return None;
            }
            let mut words = words.skip_while(|w| w.starts_with("--"));
            let image = words.next()?;
            let stage = match (words.next(), words.next()) {
                (Some(r#as), name) if r#as.eq_ignore_ascii_case("AS") => name,
                _ => None,
            };
            Some((image, stage))
        })
        .collect()
}

#[test]
fn every_base_image_of_the_dockerfile_is_pinned_by_digest_and_names_its_tag() {
    let dockerfile = read("Dockerfile");
    let froms = from_lines(&dockerfile);
    let stages: Vec<&str> = froms.iter().filter_map(|(_, stage)| *stage).collect();
    // A stage built on an earlier stage names no registry image.
    let images: Vec<&str> = froms
        .iter()
        .map(|(image, _)| *image)
        .filter(|image| !stages.contains(image))
        .collect();
    assert!(images.len() >= 2, "the builder and the runtime: {images:?}");
    for image in images {
        let (name, digest) = image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("{image} is pinned by @sha256:<digest>"));
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{image}: a digest is 64 hex digits"
        );
        // The tag stays beside the digest, so a reader (and the refresh) knows what it is.
        let tag = name.rsplit_once(':').map_or("", |(_, tag)| tag);
        assert!(
            !tag.is_empty() && !tag.contains('/'),
            "{image} names its tag"
        );
    }
}

#[test]
fn the_iam_policy_grants_exactly_the_operations_the_code_calls() {
    let ops = sdk_operations();
    for expected in [
        "PutApprovalResult",
        "ReceiveMessage",
        "GetParametersByPath",
        "StartQueryExecution",
    ] {
        assert!(ops.contains(expected), "the scan finds {expected}: {ops:?}");
    }
    let policy: serde_json::Value =
        serde_json::from_str(&read("config/iam-policy.json")).expect("policy parses");
    let actions = policy_actions(&policy);
    let granted: BTreeSet<String> = actions
        .iter()
        .filter(|a| !INDIRECT.iter().any(|p| a.starts_with(p)))
        .map(|a| a.split(':').nth(1).expect("service:Action").to_owned())
        .collect();
    assert_eq!(
        granted, ops,
        "policy actions (left) vs operations called (right)"
    );

    let role = &template()["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    let in_template = policy_actions(&serde_json::to_value(role).expect("json"));
    assert_eq!(
        in_template, actions,
        "the template's task role grants the same actions"
    );
}

#[test]
fn the_manifest_declares_the_registered_commands_and_the_scopes_the_calls_need() {
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&read("config/slack-app-manifest.yaml")).expect("manifest parses");
    assert_eq!(manifest["settings"]["socket_mode_enabled"], true);
    assert_eq!(manifest["settings"]["interactivity"]["is_enabled"], true);

    // Every registered command is declared with the registry's description and usage hint,
    // and nothing else is: a command added to one and not the other fails here.
    let declared: BTreeSet<(String, String, String)> = manifest["features"]["slash_commands"]
        .as_sequence()
        .expect("commands")
        .iter()
        .map(|c| {
            assert_eq!(c["should_escape"], false, "{c:?}");
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (field("command"), field("description"), field("usage_hint"))
        })
        .collect();
    let registered: BTreeSet<(String, String, String)> = chatops::commands::REGISTRY
        .iter()
        .map(|e| {
            let s = e.spec;
            (s.name.into(), s.description.into(), s.usage_hint.into())
        })
        .collect();
    assert_eq!(declared, registered);

    // Web API methods the bot calls (slack-morphism session methods) and their scopes.
    let scope_of = [
        ("chat_post_message", Some("chat:write")),
        ("chat_update", Some("chat:write")),
        ("chat_post_ephemeral", Some("chat:write")),
        ("usergroups_users_list", Some("usergroups:read")),
        ("get_upload_url_external", Some("files:write")),
        ("files_complete_upload_external", Some("files:write")),
        ("files_upload_via_url", None),
        ("views_open", None),
        ("auth_test", None),
        // Raw reads (`find_by_metadata`); their method names are checked below.
        ("http_session_api.http_get", None),
    ];
    let slack = read("src/outbound/slack/mod.rs");
    let mut needed: BTreeSet<&str> = BTreeSet::from(["commands"]);
    let called: Vec<&str> = slack
        .match_indices("|s| s.")
        .map(|(i, m)| {
            let rest = &slack[i + m.len()..];
            &rest[..rest.find('(').expect("call")]
        })
        .collect();
    for method in &called {
        let (_, scope) = scope_of
            .iter()
            .find(|(m, _)| m == method)
            .unwrap_or_else(|| panic!("no scope known for Slack call {method}"));
        needed.extend(*scope);
    }
    // Reading a public or a private channel back, by method name.
    for raw in ["conversations.history", "conversations.replies"] {
        if slack.contains(&format!("\"{raw}\"")) {
            needed.extend(["channels:history", "groups:history"]);
        }
    }
    let declared: BTreeSet<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_sequence()
        .expect("scopes")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        declared, needed,
        "manifest scopes (left) vs what the calls need (right)"
    );
}

/// Creates a stack of `template_body` with the parameters every deployment needs and `extra`;
/// its outputs once it is created.
async fn deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template_body: String,
    extra: &[(&str, &str)],
) -> Vec<Output> {
    let parameter = |k: &str, v: &str| {
        Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    let clusters = format!("{stack}.clusters");
    let mut create = cfn
        .create_stack()
        .stack_name(stack)
        .template_body(template_body);
    for (k, v) in [
        ("DataBucket", "exports"),
        ("ResultsBucket", "results"),
        ("ClusterListParameterName", clusters.as_str()),
    ]
    .iter()
    .chain(extra)
    {
        create = create.parameters(parameter(k, v));
    }
    create.send().await.expect("CreateStack");
    eventually(DEADLINE, "the stack to be created", || async {
        let described = cfn.describe_stacks().stack_name(stack).send().await.ok()?;
        let s = described.stacks().first()?.clone();
        match s.stack_status() {
            Some(StackStatus::CreateComplete) => Some(s.outputs().to_vec()),
            Some(StackStatus::CreateFailed | StackStatus::RollbackComplete) => {
                panic!("stack failed: {:?}", s.stack_status_reason())
            }
            _ => None,
        }
    })
    .await
}

/// The value of output `key`.
fn output(outputs: &[Output], key: &str) -> String {
    outputs
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("output {key}"))
        .to_owned()
}

#[tokio::test]
async fn the_template_deploys_to_ministack_and_its_topic_delivers_to_its_queue() {
    let config = aws::sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stack = format!("chatops-{}", uuid::Uuid::new_v4().simple());
    let outputs = deploy(&cfn, &stack, read("config/chatops.cfn.yaml"), &[]).await;
    // DeployService defaults to "false": no service.
    assert!(
        !outputs.iter().any(|o| o.output_key() == Some("ServiceArn")),
        "{outputs:?}"
    );
    let sns = aws_sdk_sns::Client::new(&config);
    sns.publish()
        .topic_arn(output(&outputs, "ApprovalTopicArn"))
        .message("{\"probe\":true}")
        .send()
        .await
        .expect("publish");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = output(&outputs, "ApprovalQueueUrl");
    let body = eventually(DEADLINE, "the message in the approval queue", || async {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .wait_time_seconds(1)
            .send()
            .await
            .ok()?;
        received.messages?.into_iter().next()?.body
    })
    .await;
    assert!(body.contains("probe"), "{body}");
}
