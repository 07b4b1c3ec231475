//! The change-calendar story: a weekend freeze holds two Friday-evening
//! pushes and only the newest rolls out on Monday; an on-call override lets
//! a hotfix through the next freeze; a public holiday keeps services at
//! night capacity.
//!
//! The local AWS evaluates the calendars from their iCalendar documents at
//! a clock the story moves for the functions' own calls, and hands back the
//! "Calendar State Change" events Change Calendar emits on the way.

use std::time::Duration;

use aws_sdk_ecs::types::Tag;
use serde_json::{Value, json};

use crate::harness::calendar::{self, events_of};
use crate::harness::localaws::{LocalAws, REGION};
use crate::harness::provision::{self, Controller, Names, push_image};
use crate::harness::timeline::Timeline;
use crate::stories::scaling::{SCHEDULE_TAG, aws_capacity, create_cluster, create_service};
use crate::{start_function, unique};

const CALENDAR: &str = "Change Calendar";

/// Plays the story; panics, naming what differs, when AWS or a function
/// does otherwise.
pub async fn run(local: &LocalAws, timeline: &Timeline) {
    timeline
        .chapter("Change calendars: a weekend freeze for redeploys, public holidays for schedules");
    freeze(local, timeline).await;
    holidays(local, timeline).await;
}

async fn freeze(local: &LocalAws, timeline: &Timeline) {
    let sdk = local.sdk_config(REGION).await;
    let env = provision::provision(
        &sdk,
        Names::unique("shop"),
        Controller::Ecs,
        Some("tag:latest"),
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let name = unique("release-freeze");
    calendar::create(&sdk, &name, &calendar::weekend_freeze()).await;
    ecs.tag_resource()
        .resource_arn(&env.service_arn)
        .tags(
            Tag::builder()
                .key("autopilot:calendar")
                .value(&name)
                .build(),
        )
        .send()
        .await
        .expect("tag the service with its calendar");
    timeline.step(
        CALENDAR,
        format!("calendar {name} (DEFAULT_OPEN): closed every Friday 17:00 to Monday 08:00, Europe/Berlin"),
    );
    timeline.detail(format!(
        "service {} tagged autopilot:calendar={name}",
        env.names.service
    ));

    let mut function = start_function(local, "redeploy-on-push", REGION, &[]).await;
    local.set_clock_of(&function, "2026-12-04T17:00:00Z").await;
    timeline.step(CALENDAR, "Friday 18:00 in Berlin: the freeze is on");

    let push = |tag: &'static str| {
        let ecr = ecr.clone();
        let repository = env.names.repository.clone();
        let seed = format!("{}-{tag}", env.names.prefix);
        async move {
            let digest = push_image(&ecr, &repository, tag, &seed).await;
            push_image(&ecr, &repository, "latest", &seed).await;
            digest
        }
    };
    let event = |digest: &str| {
        let mut event = crate::sample_event("redeploy-on-push/push-latest.json");
        event["region"] = json!(REGION);
        event["detail"]["repository-name"] = json!(env.names.repository);
        event["detail"]["image-digest"] = json!(digest);
        event
    };
    let before = running_image(&ecs, &env.names.cluster, &env.names.service).await;
    let mut newest = String::new();
    for build in ["build-51", "build-52"] {
        let digest = push(build).await;
        timeline.step(
            "CI",
            format!("pushed {}:{build} and :latest", env.names.repository),
        );
        let summary = function.invoke(event(&digest)).await.response();
        let entry = &summary["services"][0];
        assert_eq!(entry["outcome"], "deferred", "{summary}");
        timeline.step(
            "redeploy-on-push",
            format!("deferred: {}", entry["reason"].as_str().unwrap_or_default()),
        );
        newest = digest;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let tags = service_tags(&ecs, &env.service_arn).await;
    let deferred = tags
        .get("autopilot:deferred:backend")
        .cloned()
        .unwrap_or_default();
    assert!(deferred.ends_with(&newest), "{deferred}");
    timeline.detail(format!(
        "service tag autopilot:deferred:backend = {deferred}"
    ));
    assert_eq!(
        running_image(&ecs, &env.names.cluster, &env.names.service).await,
        before
    );

    let events = events_of(
        &local.set_clock_of(&function, "2026-12-07T08:00:00Z").await,
        &name,
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let opened = events[0].clone();
    timeline.step(
        CALENDAR,
        format!(
            "Monday 08:00 in Berlin: \"Calendar State Change\" {} at {}",
            opened["detail"]["state"].as_str().unwrap_or_default(),
            opened["detail"]["atTime"].as_str().unwrap_or_default()
        ),
    );
    let release = function.invoke(opened).await.response();
    let entry = &release["rollouts"][0]["services"][0];
    assert_eq!(entry["outcome"], "deployed", "{release}");
    let running = running_image(&ecs, &env.names.cluster, &env.names.service).await;
    assert_eq!(running, format!("{}@{newest}", env.image_repository()));
    timeline.step(
        "redeploy-on-push",
        format!(
            "released the newest push only: {} now runs {}",
            env.names.service,
            short(&running)
        ),
    );
    timeline.detail(format!("cleared {}", release["cleared"]));

    // The next Friday: an incident, and on-call's override.
    local.set_clock_of(&function, "2026-12-11T19:30:00Z").await;
    timeline.step(CALENDAR, "the next Friday, 20:30 in Berlin: frozen again");
    let hotfix = push("hotfix-1").await;
    ecs.tag_resource()
        .resource_arn(&env.service_arn)
        .tags(
            Tag::builder()
                .key("autopilot:freeze-override")
                .value(&hotfix)
                .build(),
        )
        .send()
        .await
        .expect("tag the override");
    timeline.step(
        "on-call",
        format!(
            "pushed :hotfix-1, tagged the service autopilot:freeze-override={}",
            short(&hotfix)
        ),
    );
    let summary = function.invoke(event(&hotfix)).await.response();
    let entry = &summary["services"][0];
    assert_eq!(entry["outcome"], "deployed", "{summary}");
    assert_eq!(entry["freezeOverride"], true, "{summary}");
    timeline.step(
        "redeploy-on-push",
        format!(
            "deployed through the freeze by override ({})",
            entry["freeze"].as_str().unwrap_or_default()
        ),
    );
    let logs = function.finish_logs().await;
    assert!(logs.contains("\"FreezeOverrides\":1"), "{logs}");
    timeline.detail("logged as a warning, counted in the FreezeOverrides metric");
}

async fn holidays(local: &LocalAws, timeline: &Timeline) {
    let sdk = local.sdk_config(REGION).await;
    let cluster = unique("shop-dev");
    create_cluster(&sdk, &cluster).await;
    let schedule = unique("office");
    create_service(
        &sdk,
        &cluster,
        "storefront",
        1,
        &[(SCHEDULE_TAG, &schedule)],
    )
    .await;
    let name = unique("public-holidays");
    calendar::create(&sdk, &name, &calendar::public_holidays()).await;
    timeline.step(
        CALENDAR,
        format!("calendar {name}: 25 and 26 December, all day"),
    );
    timeline.detail(format!(
        "{cluster}/storefront at its night capacity: 1 task"
    ));

    let mut function = start_function(local, "scheduled-scaling", REGION, &[]).await;
    let morning = json!({
        "action": "set-capacity", "selector": {"tags": {SCHEDULE_TAG: schedule}},
        "min": 3, "max": 6, "desired": 3, "calendar": name, "whenClosed": "skip"
    });
    local.set_clock_of(&function, "2026-12-25T07:00:00Z").await;
    let summary = function.invoke(morning.clone()).await.response();
    assert_eq!(summary["calendar"]["skipped"], "set-capacity", "{summary}");
    assert_eq!(aws_capacity(&sdk, &cluster, "storefront").await.desired, 1);
    timeline.step(
        "EventBridge Scheduler",
        "Christmas morning: the business-hours schedule fires",
    );
    timeline.step("scheduled-scaling", reason(&summary));
    timeline.detail("storefront stays at 1 task");

    local.set_clock_of(&function, "2026-12-28T07:00:00Z").await;
    let summary = function.invoke(morning).await.response();
    assert_eq!(summary["services"][0]["outcome"], "changed", "{summary}");
    assert_eq!(aws_capacity(&sdk, &cluster, "storefront").await.desired, 3);
    timeline.step(
        "scheduled-scaling",
        format!(
            "Monday 28 December: {}; storefront scaled to 3",
            reason(&summary)
        ),
    );
}

fn reason(summary: &Value) -> String {
    summary["calendar"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn running_image(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> String {
    let services = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("describe the service");
    let arn = services.services()[0]
        .task_definition()
        .unwrap_or_default()
        .to_owned();
    let definition = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("describe its task definition");
    definition
        .task_definition()
        .and_then(|d| d.container_definitions().first())
        .and_then(|c| c.image())
        .unwrap_or_default()
        .to_owned()
}

async fn service_tags(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> std::collections::BTreeMap<String, String> {
    ecs.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("list the service's tags")
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn short(image: &str) -> String {
    match image.split_once("@sha256:") {
        Some((_, hex)) => format!("sha256:{}", &hex[..12.min(hex.len())]),
        None => image.to_owned(),
    }
}
