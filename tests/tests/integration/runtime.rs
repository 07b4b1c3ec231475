//! Every function binary runs through a Lambda Runtime API on loopback,
//! against the local AWS, with its sample events.

use autopilot_tests::{LocalAws, harness::localaws::REGION, sample_event, start_function};
use serde_json::json;

/// A wrong configuration is reported by every invocation, naming the variable.
#[tokio::test]
async fn bad_configuration_is_an_error_naming_the_variable() {
    let local = LocalAws::connect().await;
    for function in ["redeploy-on-push", "codedeploy-hook", "scheduled-scaling"] {
        let mut process = start_function(&local, function, REGION, &[("DRY_RUN", "perhaps")]).await;
        let (error_type, message) = process.invoke(json!({})).await.error();
        assert_eq!(error_type, "InvalidInput", "{function}");
        assert!(message.contains("DRY_RUN"), "{function}: {message}");
    }
    // A lifecycle hook must answer ECS with a hookStatus, whatever is wrong:
    // the configuration error is the reason of a FAILED answer.
    let mut process = start_function(
        &local,
        "ecs-deployment-hook",
        REGION,
        &[("DRY_RUN", "perhaps")],
    )
    .await;
    let answer = process
        .invoke(sample_event(
            "ecs-deployment-hook/post-test-traffic-shift.json",
        ))
        .await
        .response();
    assert_eq!(answer["hookStatus"], "FAILED");
    let reason = answer["hookDetails"]["verdict"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("bad configuration: invalid DRY_RUN: "),
        "{reason}"
    );
}
