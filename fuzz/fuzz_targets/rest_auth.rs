//! The REST authentication JWT reader on arbitrary input: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parlor_proto::project_auth;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = project_auth::claimed_api_key(text);
        let _ = project_auth::verify(text, "fuzz-secret", 1_800_000_000);
    }
});
