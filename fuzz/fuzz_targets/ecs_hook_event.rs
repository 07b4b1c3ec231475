//! The `ecs-deployment-hook` event, as Lambda hands it over: JSON bytes,
//! then `ecs_deployment_hook::parse_invocation` (the event, its stage, its
//! `hookDetails` and the settings they resolve to), and the pure steps that
//! follow it in `Function::handle` before any AWS call: resuming the
//! `progress` the event carries, and deciding on a passing and a failing
//! look.
#![no_main]

use std::sync::OnceLock;

use autopilot_shared::config::Env;
use ecs_deployment_hook::parse_invocation;
use autopilot_shared::hooks::ecs_native::progress::{Progress, Timing, decide};
use autopilot_shared::hooks::ecs_native::settings::EnvSettings;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A fixed time, so that a crash reproduces.
const NOW_MS: u64 = 1_800_000_000_000;

fn env() -> &'static EnvSettings {
    static ENV: OnceLock<EnvSettings> = OnceLock::new();
    ENV.get_or_init(|| {
        EnvSettings::from_env(&Env::from_pairs([("DRY_RUN", "false")]))
            .expect("the default settings")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let invocation = match parse_invocation(payload, env()) {
        Ok(invocation) => invocation,
        Err(rejected) => {
            assert!(
                rejected
                    .reason
                    .starts_with("malformed ECS lifecycle hook event")
                    || rejected.reason.starts_with("bad configuration: "),
                "{}",
                rejected.reason
            );
            return;
        }
    };
    let progress = Progress::resume(
        invocation.details.progress.clone(),
        &invocation.event.execution_id,
        invocation.stage.as_str(),
        NOW_MS,
    );
    let settings = &invocation.settings;
    let _ = progress.expired(NOW_MS, settings.max_wait);
    let timing = Timing {
        wait: settings.plan.wait,
        bake: settings.plan.bake,
        max_wait: settings.max_wait,
        callback: settings.callback,
    };
    for passed in [true, false] {
        let decision = decide(progress.clone(), NOW_MS + 1, passed, "look", &timing);
        serde_json::to_value(&decision.progress).expect("progress serialises");
    }
});
