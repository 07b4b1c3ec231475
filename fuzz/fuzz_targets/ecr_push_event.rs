//! The `redeploy-on-push` event, as Lambda hands it over: JSON bytes, the
//! EventBridge envelope, the "ECR Image Action" detail, and the pushed
//! image (`redeploy_on_push::parse_push`, what `Function::handle` runs
//! before any AWS call).
#![no_main]

use autopilot_shared::image::ImageRef;
use libfuzzer_sys::fuzz_target;
use redeploy_on_push::{Push, parse_push};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(Push::Image(pushed)) = parse_push(payload) {
        // What is accepted is an image ECS can be pointed at.
        let reference = format!(
            "{}/{}@{}",
            pushed.registry.host(),
            pushed.repository,
            pushed.digest
        );
        let image = ImageRef::parse(&reference).expect("an accepted push names a valid image");
        assert_eq!(image.repository(), pushed.repository);
        if let Some(tag) = &pushed.tag {
            let tagged = format!("{}/{}:{tag}", pushed.registry.host(), pushed.repository);
            let tagged = ImageRef::parse(&tagged).expect("an accepted tag is a valid tag");
            assert_eq!(tagged.tag(), Some(tag.as_str()));
        }
        assert_eq!(image.ecr_registry(), Some(pushed.registry));
    }
});
