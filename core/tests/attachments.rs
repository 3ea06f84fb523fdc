//! Attachments in the device store: bytes kept beside the documents under
//! their hash, written with the field that refers to them, dropped when
//! nothing readable refers to them, refused like any other write.

use crate::common;

use common::{account, set, sign_in, store};
use fieldwork_core::attachment::{AttachmentRef, sha256_hex};
use fieldwork_core::{CoreError, FieldWrite, RecordKind};

fn visit(s: &mut fieldwork_core::Store) -> fieldwork_core::RecordId {
    let acc = account(s, "Acme", vec![set("territory", "north")]);
    s.create(
        RecordKind::Activity,
        vec![
            set("type", "visit"),
            set("subject", "Shelf check"),
            set("account", acc.to_string().as_str()),
        ],
    )
    .expect("visit")
}

#[test]
fn an_attached_photo_is_kept_under_its_hash_and_queued_for_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let id = visit(&mut s);
    let photo = b"\xff\xd8\xff shelf photo bytes".to_vec();

    let reference = s
        .attach(&id, "photo", &photo, "image/jpeg", "shelf.jpg", None)
        .expect("attach");
    assert_eq!(reference.sha256, sha256_hex(&photo));
    // The document holds only the reference.
    let text = s.get(&id).expect("record").text("photo").map(str::to_owned);
    assert_eq!(
        AttachmentRef::parse(&text.expect("ref")).expect("parse"),
        reference
    );
    assert_eq!(
        s.attachment_bytes(&id, "photo").expect("bytes"),
        Some(photo.clone())
    );
    let held = s.attachment(&id, "photo").expect("read").expect("attached");
    assert!(held.present && !held.uploaded);
    let pending = s.pending_uploads().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].record, id);
    assert_eq!(s.attachment_bytes_held().expect("held"), photo.len() as u64);

    s.mark_uploaded(&reference.sha256).expect("mark");
    assert!(s.pending_uploads().expect("pending").is_empty());
    assert!(
        s.attachment(&id, "photo")
            .expect("read")
            .expect("attached")
            .uploaded
    );
}

#[test]
fn replaced_or_cleared_attachments_leave_no_bytes_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let id = visit(&mut s);
    let other = visit(&mut s);
    s.attach(&id, "photo", b"first", "image/jpeg", "1.jpg", None)
        .expect("first");
    // The same bytes on another record: one blob, two references.
    s.attach(&other, "document", b"first", "image/jpeg", "copy.jpg", None)
        .expect("copy");
    s.attach(&id, "photo", b"second", "image/png", "2.png", None)
        .expect("second");
    assert_eq!(s.attachment_bytes_held().expect("held"), 5 + 6);
    s.update(&other, vec![FieldWrite::clear("document")])
        .expect("clear");
    assert_eq!(
        s.attachment_bytes_held().expect("held"),
        6,
        "`first` is dropped"
    );
    assert_eq!(s.attachment(&other, "document").expect("read"), None);
    assert_eq!(
        s.attachment_bytes(&id, "photo").expect("bytes"),
        Some(b"second".to_vec())
    );
}

#[test]
fn downloads_are_kept_only_when_they_match_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let id = visit(&mut s);
    // A reference written without its bytes, as one arriving by sync is.
    let bytes = b"delivery note".to_vec();
    let reference = AttachmentRef::for_bytes(&bytes, "application/pdf", "note.pdf").expect("ref");
    s.update(
        &id,
        vec![FieldWrite::set("document", reference.to_text().as_str())],
    )
    .expect("reference");
    let missing = s.missing_attachments().expect("missing");
    assert_eq!(missing.len(), 1);
    assert!(
        !s.attachment(&id, "document")
            .expect("read")
            .expect("ref")
            .present
    );

    let e = s
        .keep_download(&id, "document", b"delivery notE")
        .expect_err("forged");
    assert!(matches!(e, CoreError::Invalid(v) if v.message.contains("hash")));
    assert_eq!(s.attachment_bytes(&id, "document").expect("bytes"), None);
    s.keep_download(&id, "document", &bytes).expect("kept");
    assert_eq!(
        s.attachment_bytes(&id, "document").expect("bytes"),
        Some(bytes)
    );
    assert!(s.missing_attachments().expect("missing").is_empty());
}

#[test]
fn the_policy_refuses_an_attachment_before_its_own_rules_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let acc = account(&mut s, "Acme", vec![set("territory", "north")]);
    // A rep may not write the financial `contract`, even with a bad name.
    let e = s
        .attach(&acc, "contract", b"pdf", "application/pdf", "../x", None)
        .expect_err("denied");
    assert!(matches!(e, CoreError::Denied(d) if d.field.as_deref() == Some("contract")));
    assert_eq!(s.attachment_bytes_held().expect("held"), 0);
    // Where she may write, the attachment's rules speak.
    let id = visit(&mut s);
    let e = s
        .attach(&id, "photo", b"x", "jpeg", "x.jpg", None)
        .expect_err("bad type");
    assert!(matches!(e, CoreError::Invalid(v) if v.message.contains("media type")));
    let e = s
        .attach(&id, "subject", b"x", "image/jpeg", "x.jpg", None)
        .expect_err("not a file field");
    assert!(matches!(e, CoreError::Invalid(v) if v.message.contains("photo or file")));
    assert_eq!(
        s.attachment_bytes_held().expect("held"),
        0,
        "nothing kept from refusals"
    );
}
