//! Image references (a task definition's `image`), digests and ECR
//! registry hosts, from text. What parses must round-trip through `Display`.
#![no_main]

use autopilot_shared::image::{Digest, EcrRegistry, ImageRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(image) = ImageRef::parse(text) {
        assert_eq!(ImageRef::parse(&image.to_string()), Ok(image));
    }
    if let Ok(digest) = Digest::parse(text) {
        assert_eq!(digest.to_string(), text);
    }
    if let Some(registry) = EcrRegistry::from_host(text) {
        assert_eq!(EcrRegistry::from_host(&registry.host()), Some(registry));
    }
});
