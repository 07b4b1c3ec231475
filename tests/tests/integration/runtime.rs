//! Every function binary runs through a Lambda Runtime API on loopback,
//! against the local AWS, with its sample events.

use autopilot_tests::{LocalAws, localaws::REGION, sample_event, start_function};
use serde_json::json;

/// The functions whose capability has not landed answer `NotImplemented`
/// to a well-formed event, and `InvalidInput` naming the field to a malformed one.
#[tokio::test]
async fn pending_functions_answer_not_implemented_and_reject_malformed_events() {
    let local = LocalAws::connect().await;
    let cases = [(
        "ecs-deployment-hook",
        "ecs-deployment-hook/post-test-traffic-shift.json",
        json!({"executionId": "x"}),
        "lifecycleStage",
    )];
    for (function, sample, malformed, field) in cases {
        let mut process = start_function(&local, function, REGION, &[]).await;
        let (error_type, message) = process.invoke(sample_event(sample)).await.error();
        assert_eq!(error_type, "NotImplemented", "{function}: {message}");
        assert_eq!(message, format!("{function} is not implemented yet"));
        let (error_type, message) = process.invoke(malformed).await.error();
        assert_eq!(error_type, "InvalidInput", "{function}: {message}");
        assert!(message.contains(field), "{function}: {message}");
        assert!(process.init_duration().is_some());
    }
}

/// A wrong configuration is reported by every invocation, naming the variable.
#[tokio::test]
async fn bad_configuration_is_an_error_naming_the_variable() {
    let local = LocalAws::connect().await;
    for function in [
        "redeploy-on-push",
        "codedeploy-hook",
        "ecs-deployment-hook",
        "scheduled-scaling",
    ] {
        let mut process = start_function(&local, function, REGION, &[("DRY_RUN", "perhaps")]).await;
        let (error_type, message) = process.invoke(json!({})).await.error();
        assert_eq!(error_type, "InvalidInput", "{function}");
        assert!(message.contains("DRY_RUN"), "{function}: {message}");
    }
}
