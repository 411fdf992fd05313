//! The template's optional ECS service (`DeployService`) and the state table it relies on: two
//! or more tasks, a rolling deployment that starts the new tasks before it stops the old ones,
//! a health check on `/healthz`, the task role, no inbound path; and the service deployed to
//! ministack, its task definition's environment read back as the bot's settings.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_yaml::Value;

use super::{deploy, output, read, tagged, template};
use crate::support::aws;

/// `Resources.<name>.Properties`.
fn properties(template: &Value, name: &str) -> Value {
    template["Resources"][name]["Properties"].clone()
}

#[test]
fn the_state_table_is_on_demand_with_ttl_on_expires_at_and_point_in_time_recovery() {
    let table = properties(&template(), "StateTable");
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        "expires_at"
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn the_service_is_optional_and_runs_two_or_more_tasks_replacing_them_new_before_old() {
    let template = template();
    let parameters = &template["Parameters"];
    assert_eq!(parameters["DeployService"]["Default"], "false");
    assert!(parameters["DesiredCount"]["Default"].as_u64() >= Some(2));
    assert!(parameters["DesiredCount"]["MinValue"].as_u64() >= Some(2));
    for name in [
        "Service",
        "TaskDefinition",
        "ExecutionRole",
        "LogGroup",
        "ServiceSecurityGroup",
    ] {
        assert_eq!(
            template["Resources"][name]["Condition"], "ServiceEnabled",
            "{name}"
        );
    }

    let service = properties(&template, "Service");
    assert_eq!(service["LaunchType"], "FARGATE");
    assert_eq!(service["DesiredCount"], tagged("!Ref DesiredCount"));
    let deployment = &service["DeploymentConfiguration"];
    assert_eq!(deployment["MinimumHealthyPercent"], 100);
    assert_eq!(deployment["MaximumPercent"], 200);
    assert_eq!(deployment["DeploymentCircuitBreaker"]["Enable"], true);
    assert_eq!(deployment["DeploymentCircuitBreaker"]["Rollback"], true);
    // No public endpoint: no load balancer, no inbound rule.
    assert!(service.get("LoadBalancers").is_none(), "{service:?}");
    let group = properties(&template, "ServiceSecurityGroup");
    assert!(group.get("SecurityGroupIngress").is_none(), "{group:?}");
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"],
        tagged("[!Ref ServiceSecurityGroup]")
    );

    let task = properties(&template, "TaskDefinition");
    assert_eq!(task["TaskRoleArn"], tagged("!GetAtt TaskRole.Arn"));
    assert_eq!(
        task["ExecutionRoleArn"],
        tagged("!GetAtt ExecutionRole.Arn")
    );
    assert_eq!(task["NetworkMode"], "awsvpc");
    assert_eq!(task["RequiresCompatibilities"][0], "FARGATE");
    let execution = properties(&template, "ExecutionRole");
    assert_eq!(
        execution["ManagedPolicyArns"][0],
        tagged("!Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    );
    assert_eq!(
        properties(&template, "LogGroup")["RetentionInDays"],
        tagged("!Ref LogRetentionDays")
    );
}

#[test]
fn the_container_health_check_asks_healthz_through_the_binary_of_the_image() {
    let template = template();
    let container = &properties(&template, "TaskDefinition")["ContainerDefinitions"][0];
    let config = tagged("!Ref ConfigPath");
    // The image is distroless: no shell, no curl. The binary's `healthcheck` GETs `/healthz` on
    // `[health] listen` (tests/integration/health.rs runs it), with the settings `run` uses.
    let binary = "/usr/local/bin/chatops";
    assert!(
        read("Dockerfile").contains(&format!(
            "COPY --from=builder /src/target/release/chatops {binary}"
        )),
        "the image has the binary at {binary}"
    );
    assert_eq!(
        container["HealthCheck"]["Command"],
        tagged(&format!(
            "[CMD, {binary}, healthcheck, --config, !Ref ConfigPath]"
        ))
    );
    let run = container["Command"].as_sequence().expect("command");
    assert_eq!(
        run[..3],
        [Value::from("run"), Value::from("--config"), config]
    );
    let listen = container["Environment"]
        .as_sequence()
        .expect("environment")
        .iter()
        .find(|e| e["Name"] == "CHATOPS__HEALTH__LISTEN")
        .map(|e| e["Value"].clone());
    assert_eq!(listen, Some(Value::from("127.0.0.1:9464")));
}

/// A call of ministack's ECS API (JSON 1.1; it routes by target and reads the region from the
/// credential scope, as the SDK signs it).
async fn ecs(operation: &str, body: serde_json::Value) -> serde_json::Value {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::post(format!("{}/", emulators::ministack::url_from_env()))
        .header(
            "x-amz-target",
            format!("AmazonEC2ContainerServiceV20141113.{operation}"),
        )
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/{}/ecs/aws4_request, \
                 SignedHeaders=host, Signature=test",
                aws::REGION
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let response = client.request(request).await.expect(operation);
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(status.is_success(), "{operation}: {status} {bytes:?}");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn the_template_deploys_the_service_to_ministack_with_the_settings_the_bot_needs() {
    let config = aws::sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stack = format!("chatops-{}", uuid::Uuid::new_v4().simple());
    // ministack 1.5.33 hands a Number parameter's Ref to ECS as a string, and its CreateService
    // then fails ("unsupported operand type(s) for -: 'str' and 'int'"); CloudFormation
    // converts it. Deploy the template with the default count written in, and nothing else
    // changed.
    let text = read("config/chatops.cfn.yaml");
    let by_ref = "DesiredCount: !Ref DesiredCount";
    assert_eq!(text.matches(by_ref).count(), 1, "the service's count");
    let text = text.replace(by_ref, "DesiredCount: 2");
    let pipelines =
        r#"[{name = "web-app", channel = "C0123456789", approver_users = ["U0123ABCDE"]}]"#;
    let outputs = deploy(
        &cfn,
        &stack,
        text,
        &[
            ("DeployService", "true"),
            (
                "Image",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/chatops:test",
            ),
            ("VpcId", "vpc-0123456789abcdef0"),
            (
                "Subnets",
                "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
            ),
            ("PipelinesConfig", pipelines),
        ],
    )
    .await;

    let resources = cfn
        .describe_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .expect("DescribeStackResources");
    let types: std::collections::BTreeSet<&str> = resources
        .stack_resources()
        .iter()
        .filter_map(|r| r.resource_type())
        .collect();
    for expected in [
        "AWS::ECS::Cluster",
        "AWS::ECS::TaskDefinition",
        "AWS::ECS::Service",
        "AWS::Logs::LogGroup",
        "AWS::EC2::SecurityGroup",
    ] {
        assert!(types.contains(expected), "{expected} in {types:?}");
    }

    let service_arn = output(&outputs, "ServiceArn");
    let cluster = service_arn
        .split('/')
        .nth(1)
        .expect("service/<cluster>/<name>");
    let described = ecs(
        "DescribeServices",
        serde_json::json!({"cluster": cluster, "services": [service_arn]}),
    )
    .await;
    let service = &described["services"][0];
    assert_eq!(service["desiredCount"], 2, "{service}");
    assert_eq!(service["launchType"], "FARGATE");
    assert_eq!(
        service["deploymentConfiguration"],
        serde_json::json!({
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": true, "rollback": true},
        })
    );
    assert_eq!(service["loadBalancers"], serde_json::json!([]));
    let network = &service["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(network["assignPublicIp"], "DISABLED");
    assert_eq!(network["subnets"].as_array().map(Vec::len), Some(2));

    let task = ecs(
        "DescribeTaskDefinition",
        serde_json::json!({"taskDefinition": service["taskDefinition"]}),
    )
    .await;
    let task = &task["taskDefinition"];
    assert_eq!(
        task["taskRoleArn"],
        output(&outputs, "TaskRoleArn").as_str()
    );
    assert_eq!(task["networkMode"], "awsvpc");
    assert_eq!(
        (&task["cpu"], &task["memory"]),
        (&"256".into(), &"512".into())
    );

    // The container's environment alone (`--config /dev/null`) is a whole configuration,
    // pointed at this stack's queues and table.
    let container = &task["containerDefinitions"][0];
    assert_eq!(container["command"][2], "/dev/null");
    let env = container["environment"]
        .as_array()
        .expect("environment")
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().expect("name and value").to_owned();
            (field("name"), field("value"))
        });
    let settings = chatops::config::Settings::parse("", "/dev/null", env).expect("settings");
    assert_eq!(
        settings.approvals.queue_url,
        output(&outputs, "ApprovalQueueUrl")
    );
    assert_eq!(
        settings.events.expect("events").queue_url,
        output(&outputs, "EventsQueueUrl")
    );
    assert_eq!(
        settings.state.expect("state").table,
        output(&outputs, "StateTableName")
    );
    assert_eq!(settings.pipelines[0].name.as_str(), "web-app");
    assert_eq!(
        settings.health.listen,
        Some("127.0.0.1:9464".parse().expect("address"))
    );
    assert_eq!(
        settings.redshift_alerts.expect("redshift").output_location,
        "s3://results/athena-results/"
    );
}
