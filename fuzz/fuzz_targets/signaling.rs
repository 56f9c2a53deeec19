//! The signaling message parser on arbitrary input: never panics, and whatever parses
//! serializes back to something that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parlor_proto::signaling::{ClientMessage, validate_signal};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = ClientMessage::parse(text) {
        let again = serde_json::to_string(&msg).expect("a parsed message serializes");
        assert_eq!(ClientMessage::parse(&again).expect("and parses again"), msg);
        if let ClientMessage::Signal {
            signal_type, data, ..
        } = &msg
        {
            let _ = validate_signal(signal_type, data);
        }
    }
});
