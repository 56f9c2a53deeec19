//! Client token and session ID parsers on arbitrary input: never panic, and whatever
//! verifies must be internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parlor_proto::limits::MAX_CONNECTION_DATA_CHARS;
use parlor_proto::session_id;
use parlor_proto::token::ParsedToken;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = session_id::decode(text);
    for candidate in [text.to_owned(), format!("T1=={text}")] {
        if let Ok(parsed) = ParsedToken::parse(&candidate) {
            let project = parsed.project_id().to_owned();
            if let Ok(grant) = parsed.verify("fuzz-secret", 1_800_000_000) {
                assert_eq!(grant.project_id, project);
                assert!(grant.expire_time > 1_800_000_000);
                assert!(grant.data.map_or(0, |d| d.chars().count()) <= MAX_CONNECTION_DATA_CHARS);
            }
        }
    }
});
