//! Forms that carry a file (`multipart/form-data`, an `<input
//! type="file">`), read within bounds: the import page's upload
//! ([`super::admin::import`]).
//!
//! Guarantees: the body is read through `multer` (the parser behind
//! axum's own `Multipart`) with limits on the whole body, on the one file
//! field (`max_file` bytes) and on every other field ([`MAX_TEXT_FIELD`]
//! bytes), at most [`MAX_FIELDS`] fields, and a time limit for the whole
//! body; anything else is a [`FormError`] (`413` for too large, `408` for
//! too slow, `400` otherwise), never a panic. Nothing is decided here: the
//! caller checks the form token ([`super::page::check_post`]) on the
//! fields returned before using the file.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};

use super::form::{FormError, Pairs};

/// Longest value of a field that is not the file, in bytes.
pub const MAX_TEXT_FIELD: usize = 64 * 1024;
/// Most fields in a form with a file.
pub const MAX_FIELDS: usize = 16;

/// A form with a file: its other fields, and the file.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// Every field but the file, in order.
    pub fields: Pairs,
    /// The file's name as the browser gave it (for people only: never a
    /// path used on the server).
    pub file_name: String,
    /// The file's bytes (empty when no file was chosen).
    pub file: Vec<u8>,
}

fn refusal(status: StatusCode, message: impl Into<String>) -> FormError {
    FormError {
        status,
        message: message.into(),
    }
}

/// Reads a `multipart/form-data` body whose field `file_field` is a file
/// of at most `max_file` bytes, all within `timeout`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    file_field: &str,
    max_file: usize,
    timeout: Duration,
) -> Result<Upload, FormError> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            refusal(
                StatusCode::BAD_REQUEST,
                "the form must be sent as multipart/form-data",
            )
        })?;
    let whole = (max_file + MAX_FIELDS * MAX_TEXT_FIELD) as u64;
    let limits = multer::SizeLimit::new()
        .whole_stream(whole)
        .per_field(MAX_TEXT_FIELD as u64)
        .for_field(file_field.to_owned(), max_file as u64);
    let constraints = multer::Constraints::new().size_limit(limits);
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let reading = async {
        let mut upload = Upload::default();
        let mut count = 0usize;
        while let Some(field) = form.next_field().await.map_err(multer_error)? {
            count += 1;
            if count > MAX_FIELDS {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    format!("at most {MAX_FIELDS} fields"),
                ));
            }
            let name = field.name().unwrap_or_default().to_owned();
            if name == file_field {
                upload.file_name = field
                    .file_name()
                    .map(|n| super::form::truncate(n, 200).to_owned())
                    .unwrap_or_default();
                upload.file = field.bytes().await.map_err(multer_error)?.to_vec();
            } else {
                let value = field.text().await.map_err(multer_error)?;
                upload.fields.0.push((name, value));
            }
        }
        Ok(upload)
    };
    match tokio::time::timeout(timeout, reading).await {
        Ok(result) => result,
        Err(_) => Err(refusal(
            StatusCode::REQUEST_TIMEOUT,
            "the file did not arrive in time",
        )),
    }
}

/// A parser error as the answer to send.
fn multer_error(e: multer::Error) -> FormError {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. } => refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "`{}` is too large",
                super::form::truncate(field_name.as_deref().unwrap_or(""), 64)
            ),
        ),
        multer::Error::StreamSizeExceeded { .. } => {
            refusal(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
        }
        other => refusal(
            StatusCode::BAD_REQUEST,
            format!("the form cannot be read: {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (HeaderMap, Body) {
        let boundary = "XyZzy42";
        let mut body = Vec::new();
        for (name, file, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}")
                .parse()
                .expect("header"),
        );
        (headers, Body::from(body))
    }

    #[tokio::test]
    async fn fields_and_the_file_are_read_within_their_limits() {
        let (headers, body) = multipart(&[
            ("csrf", None, b"tok"),
            ("file", Some("a.csv"), b"name\nUno\n"),
            ("kind", None, b"account"),
        ]);
        let up = read(&headers, body, "file", 100, Duration::from_secs(5))
            .await
            .expect("read");
        assert_eq!(up.fields.get("csrf"), Some("tok"));
        assert_eq!(up.fields.get("kind"), Some("account"));
        assert_eq!(up.file_name, "a.csv");
        assert_eq!(up.file, b"name\nUno\n");

        let (headers, body) = multipart(&[("file", Some("a.csv"), &[b'x'; 101])]);
        let e = read(&headers, body, "file", 100, Duration::from_secs(5))
            .await
            .expect_err("too large");
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);

        let long = vec![b'y'; MAX_TEXT_FIELD + 1];
        let (headers, body) = multipart(&[("kind", None, &long)]);
        let e = read(&headers, body, "file", 100, Duration::from_secs(5))
            .await
            .expect_err("too large");
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);

        let many: Vec<(&str, Option<&str>, &[u8])> =
            (0..=MAX_FIELDS).map(|_| ("x", None, &b"1"[..])).collect();
        let (headers, body) = multipart(&many);
        let e = read(&headers, body, "file", 100, Duration::from_secs(5))
            .await
            .expect_err("too many");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);

        let e = read(
            &HeaderMap::new(),
            Body::from("a=1"),
            "file",
            100,
            Duration::from_secs(5),
        )
        .await
        .expect_err("not multipart");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
