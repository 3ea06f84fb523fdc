//! Framing: how a protocol message becomes one WebSocket binary frame.
//!
//! A frame is one flag byte followed by a CBOR message: `0x00` plain,
//! `0x01` raw-deflate compressed. Senders compress messages larger than
//! [`COMPRESS_ABOVE`]. Receivers refuse frames larger than
//! [`Limits::max_frame`] before decoding, and stop inflating at
//! [`Limits::max_message`], so a small malicious frame cannot expand into a
//! huge allocation.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Messages larger than this are compressed.
pub const COMPRESS_ABOVE: usize = 8 * 1024;

const PLAIN: u8 = 0;
const DEFLATE: u8 = 1;

/// Size limits for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted on the wire.
    pub max_frame: usize,
    /// Largest message after decompression.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 16 * 1024 * 1024,
            max_message: 64 * 1024 * 1024,
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The frame or its decompressed message exceeds the limits.
    #[error("message too large: {0}")]
    TooLarge(String),
    /// The frame is not a well-formed message.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes a message as one frame.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Serialising our own types into a Vec cannot fail.
    let _ = ciborium::into_writer(message, &mut cbor);
    if cbor.len() <= COMPRESS_ABOVE {
        let mut frame = Vec::with_capacity(cbor.len() + 1);
        frame.push(PLAIN);
        frame.extend_from_slice(&cbor);
        return frame;
    }
    let mut encoder = DeflateEncoder::new(vec![DEFLATE], Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(&cbor);
    encoder.finish().unwrap_or_default()
}

/// Decodes one frame, enforcing `limits`.
pub fn decode<T: DeserializeOwned>(frame: &[u8], limits: Limits) -> Result<T, CodecError> {
    if frame.len() > limits.max_frame {
        return Err(CodecError::TooLarge(format!(
            "frame of {} bytes exceeds {}",
            frame.len(),
            limits.max_frame
        )));
    }
    let (flag, body) = frame
        .split_first()
        .ok_or_else(|| CodecError::Malformed("empty frame".into()))?;
    let cbor: std::borrow::Cow<'_, [u8]> = match *flag {
        PLAIN => body.into(),
        DEFLATE => {
            let mut out = Vec::new();
            DeflateDecoder::new(body)
                .take(limits.max_message as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| CodecError::Malformed(format!("bad compression: {e}")))?;
            if out.len() > limits.max_message {
                return Err(CodecError::TooLarge(format!(
                    "message inflates beyond {} bytes",
                    limits.max_message
                )));
            }
            out.into()
        }
        other => return Err(CodecError::Malformed(format!("unknown frame flag {other}"))),
    };
    if cbor.len() > limits.max_message {
        return Err(CodecError::TooLarge(format!(
            "message of {} bytes exceeds {}",
            cbor.len(),
            limits.max_message
        )));
    }
    ciborium::from_reader(cbor.as_ref()).map_err(|e| CodecError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::protocol::{ClientMessage, Push, PushedChange};
    use serde_bytes::ByteBuf;

    fn push(n: usize, size: usize) -> ClientMessage {
        ClientMessage::Push(Push {
            batch: 7,
            changes: (0..n)
                .map(|i| PushedChange {
                    doc: format!("account:{i:026}/general"),
                    bytes: ByteBuf::from(vec![(i % 251) as u8; size]),
                })
                .collect(),
        })
    }

    #[test]
    fn small_messages_travel_plain_and_large_ones_compressed() {
        let small = push(1, 10);
        let frame = encode(&small);
        assert_eq!(frame[0], PLAIN);
        assert_eq!(
            decode::<ClientMessage>(&frame, Limits::default()),
            Ok(small)
        );
        let large = push(100, 1000);
        let frame = encode(&large);
        assert_eq!(frame[0], DEFLATE);
        assert!(frame.len() < 100 * 1000 / 4, "repetitive data compresses");
        assert_eq!(
            decode::<ClientMessage>(&frame, Limits::default()),
            Ok(large)
        );
    }

    #[test]
    fn oversized_frames_and_inflation_bombs_are_refused() {
        let limits = Limits {
            max_frame: 1024,
            max_message: 64 * 1024,
        };
        let frame = encode(&push(1, 5000));
        assert!(matches!(
            decode::<ClientMessage>(&vec![0u8; 2048], limits),
            Err(CodecError::TooLarge(_))
        ));
        // 10 MB of zeros deflates to a few KB but must not be inflated past the limit.
        let mut bomb = DeflateEncoder::new(vec![DEFLATE], Compression::best());
        bomb.write_all(&vec![0u8; 10 * 1024 * 1024]).expect("write");
        let bomb = bomb.finish().expect("finish");
        let generous = Limits {
            max_frame: bomb.len() + 1,
            max_message: 64 * 1024,
        };
        assert!(matches!(
            decode::<ClientMessage>(&bomb, generous),
            Err(CodecError::TooLarge(_))
        ));
        assert!(decode::<ClientMessage>(&frame, Limits::default()).is_ok());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in [
            &[][..],
            &[9, 1, 2][..],
            &[0, 0xff, 0xff][..],
            &[1, 0x13, 0x37][..],
            b"\0{\"type\":\"hello\"}",
        ] {
            assert!(
                matches!(
                    decode::<ClientMessage>(junk, Limits::default()),
                    Err(CodecError::Malformed(_))
                ),
                "{junk:?}"
            );
        }
        let wrong_shape = encode(&serde_json::json!({"type": "push", "batch": "seven"}));
        assert!(matches!(
            decode::<ClientMessage>(&wrong_shape, Limits::default()),
            Err(CodecError::Malformed(_))
        ));
    }
}
