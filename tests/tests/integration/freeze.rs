//! Freeze windows, end to end: redeploy-on-push against the local AWS, whose
//! Change Calendar evaluates a real iCalendar weekend freeze at a clock the
//! test moves (for the function's own calls only).

use std::time::Duration;

use autopilot_tests::LambdaProcess;
use autopilot_tests::harness::calendar::{self, events_of};
use autopilot_tests::harness::provision::Controller;
use aws_sdk_ecs::types::Tag;
use serde_json::{Value, json};

use crate::redeploy::Fixture;

/// Friday 18:00 in Berlin (17:00 UTC): inside the weekend freeze.
const FRIDAY_EVENING: &str = "2026-12-04T17:00:00Z";
/// Monday 09:00 in Berlin (08:00 UTC): the freeze ended at 08:00 Berlin.
const MONDAY_MORNING: &str = "2026-12-07T08:00:00Z";
/// The deferral tag of the app container.
const DEFERRED: &str = "autopilot:deferred:backend";

struct Frozen {
    f: Fixture,
    calendar: String,
}

impl Frozen {
    /// A service tracking `latest` that names a weekend-freeze calendar in
    /// its `autopilot:calendar` tag.
    async fn new(label: &str) -> Frozen {
        let f = Fixture::new(label, Controller::Ecs, "tag:latest").await;
        let calendar = format!("{}-freeze", f.env.names.prefix);
        calendar::create(&f.sdk, &calendar, &calendar::weekend_freeze()).await;
        f.ecs
            .tag_resource()
            .resource_arn(&f.env.service_arn)
            .tags(
                Tag::builder()
                    .key("autopilot:calendar")
                    .value(&calendar)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        Frozen { f, calendar }
    }

    /// The function, its calendar clock at `now`.
    async fn function(&self, now: &str, extra: &[(&str, &str)]) -> LambdaProcess {
        let function = self.f.function(extra).await;
        self.f.local.set_clock_of(&function, now).await;
        function
    }

    async fn tags(&self) -> std::collections::BTreeMap<String, String> {
        self.f
            .ecs
            .list_tags_for_resource()
            .resource_arn(&self.f.env.service_arn)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
            .collect()
    }

    async fn running(&self) -> String {
        self.f
            .service_task_definition(&self.f.env.names.service)
            .await
    }

    /// The image of the app container of the running revision.
    async fn running_image(&self) -> String {
        let (definition, _) = self.f.describe(&self.running().await).await;
        definition.container_definitions()[0]
            .image()
            .unwrap()
            .to_owned()
    }
}

fn only(summary: &Value) -> &Value {
    let services = summary["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {summary}"));
    assert_eq!(services.len(), 1, "{summary}");
    &services[0]
}

fn reason(entry: &Value) -> &str {
    entry["reason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_freeze_holds_every_push_and_only_the_newest_rolls_out_when_it_opens() {
    let z = Frozen::new("freeze").await;
    let older = z.f.push_build("latest", "build-2").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = z.f.push_build("latest", "build-3").await;
    let mut function = z.function(FRIDAY_EVENING, &[]).await;
    let revisions = z.f.revisions().await;
    let before = z.running().await;

    // The first push is deferred: nothing registered, nothing rolled out.
    let summary = function
        .invoke(z.f.event(Some("latest"), &older))
        .await
        .response();
    let entry = only(&summary);
    assert_eq!(entry["outcome"], "deferred", "{summary}");
    assert!(
        reason(entry).contains(&format!(
            "calendar {} is CLOSED until 2026-12-07T07:00:00Z",
            z.calendar
        )),
        "{summary}"
    );
    assert!(entry["freeze"].as_str().unwrap().contains("CLOSED"));
    let tags = z.tags().await;
    assert!(
        tags[DEFERRED].ends_with(&format!(":latest@{older}")),
        "{tags:?}"
    );

    // The newer push replaces the deferral; the older one's late duplicate
    // and the newer one's duplicate change nothing.
    let summary = function
        .invoke(z.f.event(Some("latest"), &newer))
        .await
        .response();
    assert_eq!(only(&summary)["outcome"], "deferred", "{summary}");
    let deferred = z.tags().await[DEFERRED].clone();
    assert!(deferred.ends_with(&format!("@{newer}")), "{deferred}");
    let late = function
        .invoke(z.f.event(Some("latest"), &older))
        .await
        .response();
    let entry = only(&late);
    assert_eq!(entry["outcome"], "skipped", "{late}");
    assert!(
        reason(entry).contains("is already deferred and rolls out instead"),
        "{late}"
    );
    let duplicate = function
        .invoke(z.f.event(Some("latest"), &newer))
        .await
        .response();
    let entry = only(&duplicate);
    assert_eq!(entry["outcome"], "deferred", "{duplicate}");
    assert!(
        reason(entry).ends_with("is already deferred"),
        "{duplicate}"
    );
    assert_eq!(z.tags().await[DEFERRED], deferred);
    assert_eq!(
        z.f.revisions().await,
        revisions,
        "nothing registered during the freeze"
    );
    assert_eq!(
        z.running().await,
        before,
        "nothing rolled out during the freeze"
    );

    // A sweep during the freeze keeps the deferral.
    let sweep = function.invoke(schedule_event()).await.response();
    assert_eq!(
        sweep["rollouts"][0]["services"][0]["outcome"], "deferred",
        "{sweep}"
    );
    assert_eq!(sweep["cleared"], json!([]), "{sweep}");
    assert_eq!(z.running().await, before);

    // Monday: Change Calendar emits its state change, which releases the
    // newest push alone.
    let events = events_of(
        &z.f.local.set_clock_of(&function, MONDAY_MORNING).await,
        &z.calendar,
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let opened = &events[0];
    assert_eq!(opened["detail-type"], "Calendar State Change");
    assert_eq!(opened["source"], "aws.ssm");
    assert_eq!(opened["detail"]["state"], "OPEN");
    assert_eq!(opened["detail"]["atTime"], "2026-12-07T07:00:00Z");
    assert_eq!(
        opened["detail"]["nextTransitionTime"],
        "2026-12-11T16:00:00Z"
    );
    let release = function.invoke(opened.clone()).await.response();
    assert_eq!(
        release["rollouts"].as_array().unwrap().len(),
        1,
        "{release}"
    );
    let entry = &release["rollouts"][0]["services"][0];
    assert_eq!(entry["outcome"], "deployed", "{release}");
    assert_eq!(
        release["cleared"],
        json!([format!(
            "{}/{}: {DEFERRED}",
            z.f.env.names.cluster, z.f.env.names.service
        )])
    );
    assert_eq!(
        z.running_image().await,
        format!("{}@{newer}", z.f.env.image_repository()),
        "the newest push runs, pinned to its digest"
    );
    assert_eq!(
        z.f.revisions().await,
        revisions + 1,
        "one revision, for the newest push only"
    );
    assert!(!z.tags().await.contains_key(DEFERRED));

    // A repeated state change (AWS documents duplicates) changes nothing.
    let running = z.running().await;
    let again = function.invoke(opened.clone()).await.response();
    assert_eq!(again["rollouts"], json!([]), "{again}");
    assert_eq!(z.running().await, running);
    assert_eq!(z.f.revisions().await, revisions + 1);

    let logs = function.finish_logs().await;
    assert!(logs.contains("\"Deployments\":1"), "{logs}");
    crate::iam::assert_calls_declared(&z.f.local, &function, redeploy_on_push::IAM_ACTIONS).await;
}

fn schedule_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-12-07T08:15:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/ecs-autopilot-FreezeSweep"],
        "detail": {}
    })
}

#[tokio::test]
async fn the_sweep_releases_a_deferral_whose_event_was_missed() {
    let z = Frozen::new("sweep").await;
    let digest = z.f.push_build("latest", "build-2").await;
    let mut function = z.function(FRIDAY_EVENING, &[]).await;
    let summary = function
        .invoke(z.f.event(Some("latest"), &digest))
        .await
        .response();
    assert_eq!(only(&summary)["outcome"], "deferred", "{summary}");

    // The state-change event is lost; the sweep after the freeze finds the tag.
    z.f.local.set_clock_of(&function, MONDAY_MORNING).await;
    let release = function.invoke(schedule_event()).await.response();
    assert_eq!(release["trigger"], "the scheduled sweep");
    assert_eq!(
        release["rollouts"][0]["services"][0]["outcome"], "deployed",
        "{release}"
    );
    assert_eq!(
        z.running_image().await,
        format!("{}@{digest}", z.f.env.image_repository())
    );
    assert!(!z.tags().await.contains_key(DEFERRED));
}

#[tokio::test]
async fn an_override_lets_one_named_digest_through_a_freeze() {
    let z = Frozen::new("override").await;
    let hotfix = z.f.push_build("latest", "hotfix").await;
    z.f.ecs
        .tag_resource()
        .resource_arn(&z.f.env.service_arn)
        .tags(
            Tag::builder()
                .key("autopilot:freeze-override")
                .value(&hotfix)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut function = z.function(FRIDAY_EVENING, &[]).await;

    let summary = function
        .invoke(z.f.event(Some("latest"), &hotfix))
        .await
        .response();
    let entry = only(&summary);
    assert_eq!(entry["outcome"], "deployed", "{summary}");
    assert_eq!(entry["freezeOverride"], true, "{summary}");
    assert!(
        entry["freeze"].as_str().unwrap().contains(&z.calendar),
        "{summary}"
    );
    assert_eq!(
        z.running_image().await,
        format!("{}@{hotfix}", z.f.env.image_repository())
    );

    // Any other digest is still held.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let other = z.f.push_build("latest", "build-4").await;
    let summary = function
        .invoke(z.f.event(Some("latest"), &other))
        .await
        .response();
    assert_eq!(only(&summary)["outcome"], "deferred", "{summary}");

    let logs = function.finish_logs().await;
    assert!(logs.contains("freeze overridden"), "{logs}");
    assert!(logs.contains("\"FreezeOverrides\":1"), "{logs}");
}

#[tokio::test]
async fn a_calendar_that_cannot_be_read_holds_the_push_and_names_it() {
    let f = Fixture::new("nocal", Controller::Ecs, "tag:latest").await;
    let digest = f.push_build("latest", "build-2").await;
    let missing = format!("{}-missing", f.env.names.prefix);
    let mut function = f.function(&[("FREEZE_CALENDARS", missing.as_str())]).await;
    let revisions = f.revisions().await;
    let before = f.service_task_definition(&f.env.names.service).await;

    let (error_type, message) = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .error();
    assert!(message.contains(&missing), "{message}");
    assert!(
        message.contains("nothing rolls out while its freeze cannot be told"),
        "{message}"
    );
    assert_ne!(error_type, "", "{message}");
    assert_eq!(f.revisions().await, revisions);
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        before
    );
}

#[tokio::test]
async fn a_dry_run_during_a_freeze_records_nothing() {
    let z = Frozen::new("freezedry").await;
    let digest = z.f.push_build("latest", "build-2").await;
    let mut function = z.function(FRIDAY_EVENING, &[("DRY_RUN", "true")]).await;
    let summary = function
        .invoke(z.f.event(Some("latest"), &digest))
        .await
        .response();
    let entry = only(&summary);
    assert_eq!(entry["outcome"], "planned", "{summary}");
    assert!(reason(entry).contains("would defer"), "{summary}");
    assert!(!z.tags().await.contains_key(DEFERRED));
    let calls = z.f.local.calls_of(&function).await;
    assert!(!calls.contains_key("ecs:TagResource"), "{calls:?}");
}

/// Fault injection: Change Calendar throttling every call holds the push
/// (`Retryable`, so Lambda retries the event) and nothing rolls out; a
/// failed `UntagResource` after a release leaves the deferral for the next
/// sweep, which finds the image running and clears it.
#[tokio::test]
async fn faults_never_roll_out_early_and_never_lose_a_deferral() {
    use autopilot_tests::harness::localaws::Fault;
    let z = Frozen::new("freezefault").await;
    let digest = z.f.push_build("latest", "build-2").await;
    let mut function = z.function(FRIDAY_EVENING, &[]).await;
    let before = z.running().await;

    z.f.local
        .inject_faults(
            &function,
            &[Fault::throttle()
                .service("ssm")
                .operation("GetCalendarState")],
        )
        .await;
    let (error_type, message) = function
        .invoke(z.f.event(Some("latest"), &digest))
        .await
        .error();
    assert_eq!(error_type, "Retryable", "{message}");
    assert!(message.contains(&z.calendar), "{message}");
    assert_eq!(
        z.running().await,
        before,
        "nothing rolls out while the calendar cannot be read"
    );
    assert!(!z.tags().await.contains_key(DEFERRED));

    // The retry of the same event, the calendar readable again: deferred.
    z.f.local.clear_faults(&function).await;
    let summary = function
        .invoke(z.f.event(Some("latest"), &digest))
        .await
        .response();
    assert_eq!(only(&summary)["outcome"], "deferred", "{summary}");

    // Monday: the release rolls out, but clearing the tag fails once.
    z.f.local.set_clock_of(&function, MONDAY_MORNING).await;
    z.f.local
        .inject_faults(
            &function,
            &[Fault::error(500).service("ecs").operation("UntagResource")],
        )
        .await;
    let (error_type, message) = function.invoke(schedule_event()).await.error();
    assert_eq!(error_type, "Retryable", "{message}");
    assert_eq!(
        z.running_image().await,
        format!("{}@{digest}", z.f.env.image_repository())
    );
    assert!(
        z.tags().await.contains_key(DEFERRED),
        "the deferral is kept"
    );

    // The next sweep: the service runs the image, so the tag goes.
    z.f.local.clear_faults(&function).await;
    let revisions = z.f.revisions().await;
    let sweep = function.invoke(schedule_event()).await.response();
    let entry = &sweep["rollouts"][0]["services"][0];
    assert_eq!(entry["outcome"], "skipped", "{sweep}");
    assert!(reason(entry).starts_with("already running"), "{sweep}");
    assert!(!z.tags().await.contains_key(DEFERRED), "{sweep}");
    assert_eq!(z.f.revisions().await, revisions, "nothing registered twice");
}
