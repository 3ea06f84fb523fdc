//! Attachments: photos and files on records, stored outside Automerge.
//!
//! A field of type [`crate::schema::FieldType::File`] holds an
//! [`AttachmentRef`]: the SHA-256 of the bytes, their size, media type and
//! file name, written into the document as one compact JSON text. The bytes
//! themselves live beside the documents (the device store's `blobs` table, the
//! server's `blobs` table) and travel over HTTP, not through sync.
//!
//! Guarantees:
//! - A reference is checked by the same function wherever it is accepted
//!   ([`AttachmentRef::parse`] via [`crate::value::check`]): on the device
//!   before it is written and on the server in every incoming change. A
//!   reference with a malformed hash, a size over [`MAX_ATTACHMENT_BYTES`],
//!   a media type that is not `type/subtype`, or a name with a path
//!   separator or control character is refused with the reason.
//! - Bytes are content-addressed: [`sha256_hex`] of the bytes is their name.
//!   Whoever stores bytes checks them against the reference ([`AttachmentRef::matches`]),
//!   so a blob can never be swapped for other content under the same name.
//! - Who may read a blob is decided by the record and field that refer to
//!   it: reading the bytes needs the same right as reading the field.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest attachment accepted anywhere (25 MiB): a phone photo or a
/// scanned document, not a video.
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;

/// Longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Largest thumbnail accepted (a 320-pixel JPEG is about 20 KiB).
pub const MAX_THUMBNAIL_BYTES: u64 = 256 * 1024;

/// What a file field's name gets to name its photo's thumbnail where blobs
/// are addressed by record and field (`photo.thumbnail`).
pub const THUMBNAIL_SUFFIX: &str = ".thumbnail";

/// A photo's thumbnail: a JPEG blob of its own, made on the device that
/// took the photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thumbnail {
    /// Lower-case hex SHA-256 of the thumbnail's bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a file field holds: which bytes, how many, what kind, what name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    /// Lower-case hex SHA-256 of the bytes (64 characters).
    pub sha256: String,
    /// Size of the bytes.
    pub size: u64,
    /// Media type, `type/subtype` (`image/jpeg`, `application/pdf`).
    #[serde(rename = "type")]
    pub media_type: String,
    /// File name shown to people (`shelf.jpg`); never a path.
    pub name: String,
    /// The photo's thumbnail, when the device that attached it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<Thumbnail>,
}

impl AttachmentRef {
    /// Describes `bytes` as an attachment named `name` of `media_type`,
    /// checking every rule ([`AttachmentRef::check`]).
    pub fn for_bytes(bytes: &[u8], media_type: &str, name: &str) -> Result<Self, String> {
        let reference = AttachmentRef {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            media_type: media_type.trim().to_ascii_lowercase(),
            name: name.trim().to_owned(),
            thumbnail: None,
        };
        reference.check()?;
        Ok(reference)
    }

    /// Parses the text a file field holds, checking every rule.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > 1024 {
            return Err("is not an attachment reference (too long)".into());
        }
        let reference: AttachmentRef = serde_json::from_str(text)
            .map_err(|_| "is not an attachment reference (sha256, size, type, name)".to_owned())?;
        reference.check()?;
        Ok(reference)
    }

    /// The compact JSON text stored in the document.
    pub fn to_text(&self) -> String {
        // Serialising four plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks hash, size, media type and name.
    pub fn check(&self) -> Result<(), String> {
        if !is_sha256_hex(&self.sha256) {
            return Err("attachment hash must be 64 lower-case hex digits".into());
        }
        if self.size > MAX_ATTACHMENT_BYTES {
            return Err(format!(
                "attachment is {} bytes; the limit is {MAX_ATTACHMENT_BYTES} (25 MiB)",
                self.size
            ));
        }
        if !is_media_type(&self.media_type) {
            return Err(format!(
                "`{}` is not a media type (type/subtype)",
                self.media_type
            ));
        }
        let name_ok = !self.name.is_empty()
            && self.name.chars().count() <= MAX_NAME_CHARS
            && !self
                .name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
            && self.name != "."
            && self.name != "..";
        if !name_ok {
            return Err(format!(
                "attachment name must be 1 to {MAX_NAME_CHARS} characters, with no path separator or control character"
            ));
        }
        if let Some(thumbnail) = &self.thumbnail {
            if !is_sha256_hex(&thumbnail.sha256) {
                return Err("thumbnail hash must be 64 lower-case hex digits".into());
            }
            if thumbnail.size > MAX_THUMBNAIL_BYTES {
                return Err(format!(
                    "thumbnail is {} bytes; the limit is {MAX_THUMBNAIL_BYTES}",
                    thumbnail.size
                ));
            }
        }
        Ok(())
    }

    /// Adds the thumbnail `bytes` (a JPEG) to this reference.
    pub fn with_thumbnail(mut self, bytes: &[u8]) -> Result<Self, String> {
        self.thumbnail = Some(Thumbnail {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        });
        self.check()?;
        Ok(self)
    }

    /// The thumbnail as an attachment of its own (a JPEG named after the
    /// photo), for storing and moving it like one.
    pub fn thumbnail_ref(&self) -> Option<AttachmentRef> {
        self.thumbnail.as_ref().map(|t| AttachmentRef {
            sha256: t.sha256.clone(),
            size: t.size,
            media_type: "image/jpeg".into(),
            name: format!("thumbnail-{}.jpg", self.name),
            thumbnail: None,
        })
    }

    /// Whether `bytes` are exactly the bytes this reference names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && sha256_hex(bytes) == self.sha256
    }

    /// The size for people: `812 B`, `14.2 KB`, `1.4 MB` (decimal units).
    pub fn size_text(&self) -> String {
        let size = self.size as f64;
        if self.size < 1000 {
            format!("{} B", self.size)
        } else if self.size < 1_000_000 {
            format!("{:.1} KB", size / 1e3)
        } else {
            format!("{:.1} MB", size / 1e6)
        }
    }

    /// Whether the attachment is a photo (an `image/*` type).
    pub fn is_image(&self) -> bool {
        self.media_type.starts_with("image/")
    }
}

/// The field a blob address names (`photo.thumbnail` → `photo`) and whether
/// it names the field's thumbnail.
pub fn split_thumbnail(field: &str) -> (&str, bool) {
    match field.strip_suffix(THUMBNAIL_SUFFIX) {
        Some(base) => (base, true),
        None => (field, false),
    }
}

/// Lower-case hex SHA-256 of `bytes`: the name of a blob.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

/// Whether `s` is 64 lower-case hex digits (the form of a blob name).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match s.split_once('/') {
        Some((top, sub)) => token(top) && token(sub),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_round_trips_through_its_text() {
        let r = AttachmentRef::for_bytes(b"abc", "Image/JPEG", " shelf.jpg ").expect("valid");
        assert_eq!(r.media_type, "image/jpeg");
        assert_eq!(r.name, "shelf.jpg");
        assert_eq!(r.size, 3);
        // FIPS 180-2's first example.
        assert_eq!(
            r.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(r.matches(b"abc"));
        assert!(!r.matches(b"abd"));
        assert!(r.is_image());
        assert_eq!(r.size_text(), "3 B");
        let big = AttachmentRef {
            size: 1_460_000,
            ..r.clone()
        };
        assert_eq!(big.size_text(), "1.5 MB");
        assert_eq!(AttachmentRef::parse(&r.to_text()).expect("parses"), r);
        assert!(!r.to_text().contains("thumbnail"), "no thumbnail, no key");
        let with = r.clone().with_thumbnail(b"small").expect("thumbnail");
        assert_eq!(AttachmentRef::parse(&with.to_text()).expect("parses"), with);
        let thumb = with.thumbnail_ref().expect("its own ref");
        assert!(thumb.matches(b"small") && thumb.media_type == "image/jpeg");
        assert_eq!(split_thumbnail("photo.thumbnail"), ("photo", true));
        assert_eq!(split_thumbnail("photo"), ("photo", false));
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        let good = AttachmentRef::for_bytes(b"x", "application/pdf", "note.pdf").expect("valid");
        let with = |f: fn(&mut AttachmentRef)| {
            let mut r = good.clone();
            f(&mut r);
            AttachmentRef::parse(&r.to_text()).expect_err("refused")
        };
        assert!(with(|r| r.sha256 = r.sha256.to_uppercase()).contains("hash"));
        assert!(with(|r| r.sha256.truncate(10)).contains("hash"));
        assert!(with(|r| r.size = MAX_ATTACHMENT_BYTES + 1).contains("limit"));
        assert!(with(|r| r.media_type = "pdf".into()).contains("media type"));
        assert!(with(|r| r.media_type = "a/b c".into()).contains("media type"));
        assert!(with(|r| r.name = "../../etc/passwd".into()).contains("path separator"));
        assert!(with(|r| r.name = "a\\b".into()).contains("path separator"));
        assert!(with(|r| r.name = "line\nbreak".into()).contains("control"));
        assert!(with(|r| r.name = String::new()).contains("name"));
        assert!(AttachmentRef::parse("not json").is_err());
        assert!(AttachmentRef::parse(r#"{"sha256":"","size":1}"#).is_err());
        let extra = good.to_text().replace('}', r#","path":"/x"}"#);
        assert!(AttachmentRef::parse(&extra).is_err());
        assert!(AttachmentRef::parse(&"x".repeat(2000)).is_err());
        let mut huge = good.clone().with_thumbnail(b"t").expect("thumbnail");
        if let Some(t) = huge.thumbnail.as_mut() {
            t.size = MAX_THUMBNAIL_BYTES + 1;
        }
        assert!(AttachmentRef::parse(&huge.to_text()).is_err());
    }
}
