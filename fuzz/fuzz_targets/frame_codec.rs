//! The WebSocket frame codec (`fieldwork_core::sync::codec::decode`), on
//! both sides of the protocol: the server decodes `ClientMessage`s from any
//! device, a device decodes `ServerMessage`s.
//!
//! Checks: decoding arbitrary bytes never panics and never allocates past
//! the limits (small limits here, so an inflation bomb is cheap to find);
//! whatever decodes re-encodes to a frame that decodes to the same message.
#![no_main]

use fieldwork_core::sync::codec::{self, CodecError, Limits};
use fieldwork_core::sync::protocol::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

/// Small limits: a frame of at most 64 KiB that inflates to at most 1 MiB.
const LIMITS: Limits = Limits {
    max_frame: 64 * 1024,
    max_message: 1024 * 1024,
};

fuzz_target!(|frame: &[u8]| {
    match codec::decode::<ClientMessage>(frame, LIMITS) {
        Ok(message) => {
            let again = codec::encode(&message);
            assert_eq!(
                codec::decode::<ClientMessage>(&again, Limits::default()).as_ref(),
                Ok(&message),
                "a decoded client message survives a round trip"
            );
        }
        Err(CodecError::TooLarge(m) | CodecError::Malformed(m)) => {
            assert!(!m.is_empty(), "errors explain themselves")
        }
    }
    if let Ok(message) = codec::decode::<ServerMessage>(frame, LIMITS) {
        let again = codec::encode(&message);
        assert_eq!(
            codec::decode::<ServerMessage>(&again, Limits::default()).as_ref(),
            Ok(&message),
            "a decoded server message survives a round trip"
        );
    }
});
