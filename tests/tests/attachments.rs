//! Photos and files end to end, through the SDK against a real server: a
//! photo attached offline reaches the manager; its bytes never reach a user
//! who may not read the record or its class, not even on disk (the scan
//! decrypts the store, key in hand); a record that leaves a rep's sight
//! takes its bytes with it; a wipe leaves nothing.

use fieldwork_core::{RecordId, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

fn org(server: &TestServer) {
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("leo", "rep", &["sevilla"], Some("marta"));
}

/// An account in Madrid named `name` and a visit to it about `subject`,
/// made on `device`.
fn shop_with_visit(device: &TestDevice, name: &str, subject: &str) -> (RecordId, RecordId) {
    let account = device.create(
        RecordKind::Account,
        &[("name", name), ("territory", "madrid")],
    );
    let visit = device.create(
        RecordKind::Activity,
        &[
            ("type", "visit"),
            ("subject", subject),
            ("account", &account.to_string()),
        ],
    );
    (account, visit)
}

/// Photo-like bytes carrying `marker` many times (a scan must find it in
/// any store that holds them).
fn photo(marker: &str, len: usize) -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0".to_vec();
    while bytes.len() < len {
        bytes.extend_from_slice(marker.as_bytes());
        bytes.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

#[test]
fn a_photo_attached_offline_reaches_the_manager_and_nobody_who_may_not_read_it() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, ana, leo) = (
        TestDevice::new(&rt),
        TestDevice::new(&rt),
        TestDevice::new(&rt),
    );
    manager.login(&server.url, "marta");
    ana.login(&server.url, "ana");
    leo.login(&server.url, "leo");

    // Offline: the account, the visit, the photo (1.5 MiB: two chunks).
    let (_, visit) = shop_with_visit(&ana, "Ultramarinos Qx", "Shelf check");
    let marker = "QXSHELFPHOTO";
    let bytes = photo(marker, 1_500_000);
    ana.store(|s| s.attach(&visit, "photo", &bytes, "image/jpeg", "shelf.jpg", None));
    let held = ana
        .store(|s| s.attachment(&visit, "photo"))
        .expect("attached");
    assert!(
        held.present && !held.uploaded,
        "kept offline, not uploaded yet"
    );

    let report = ana.sync();
    assert_eq!(report.files.uploaded, 1, "{report:?}");
    assert!(
        ana.store(|s| s.attachment(&visit, "photo"))
            .expect("held")
            .uploaded
    );

    // The manager's sync prefetches it (under 2 MiB) and it is the same bytes.
    let report = manager.sync();
    assert_eq!(report.files.downloaded, 1, "{report:?}");
    let got = rt
        .block_on(manager.device.fetch_attachment(&visit, "photo"))
        .expect("fetch")
        .expect("attached");
    assert_eq!(got, bytes);
    assert!(
        manager.readable_occurrences(marker.as_bytes()) > 0,
        "positive control"
    );

    // Leo, in Sevilla, sees neither the visit nor its photo.
    let report = leo.sync();
    assert_eq!(report.files.downloaded, 0);
    assert!(leo.try_get(&visit).is_none());
    assert_eq!(leo.readable_occurrences(marker.as_bytes()), 0);

    // A visit the manager made at an account of his, in Ana's territory:
    // her sync brings its photo. Moved to Sevilla, the record and its bytes
    // leave her phone (her own visit above stays) and reach Leo's.
    let (shop, planned) = shop_with_visit(&manager, "Colmado Qx", "Audit");
    let marker = "QXAUDITPHOTO";
    let audit = photo(marker, 300_000);
    manager.store(|s| s.attach(&planned, "photo", &audit, "image/jpeg", "audit.jpg", None));
    manager.sync();
    assert_eq!(ana.sync().files.downloaded, 1);
    assert!(
        ana.readable_occurrences(marker.as_bytes()) > 0,
        "positive control"
    );
    manager.set(&shop, &[("territory", "sevilla")]);
    manager.sync();
    ana.sync();
    assert!(ana.try_get(&planned).is_none());
    assert_eq!(
        ana.readable_occurrences(marker.as_bytes()),
        0,
        "purged with the record"
    );
    assert_eq!(
        ana.store(|s| s.attachment_bytes_held()),
        bytes.len() as u64,
        "only her own visit's photo is left"
    );
    let report = leo.sync();
    assert_eq!(report.files.downloaded, 1, "{report:?}");
    assert_eq!(
        leo.store(|s| s.attachment_bytes(&planned, "photo")),
        Some(audit)
    );
}

#[test]
fn a_contract_in_a_class_the_rep_may_not_read_never_reaches_her_device() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, ana) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    ana.login(&server.url, "ana");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Conservas Qx"), ("territory", "madrid")],
    );
    let marker = "QXSIGNEDCONTRACT";
    let contract = photo(marker, 40_000);
    manager.store(|s| {
        s.attach(
            &account,
            "contract",
            &contract,
            "application/pdf",
            "contrato.pdf",
            None,
        )
    });
    assert_eq!(manager.sync().files.uploaded, 1);

    let report = ana.sync();
    assert_eq!(report.files.downloaded, 0);
    assert!(ana.try_get(&account).is_some(), "she sees the account");
    assert_eq!(ana.store(|s| s.attachment(&account, "contract")), None);
    let fetched = rt
        .block_on(ana.device.fetch_attachment(&account, "contract"))
        .expect("no error: the field is simply not on her device");
    assert_eq!(fetched, None);
    assert_eq!(ana.readable_occurrences(marker.as_bytes()), 0);
    // She cannot attach one either: refused before anything is kept.
    let e = ana
        .device
        .attach(&account, "contract", b"forged", "application/pdf", "x.pdf")
        .expect_err("denied");
    assert!(e.to_string().contains("contract"), "{e}");
    assert_eq!(ana.store(|s| s.attachment_bytes_held()), 0);
}

#[test]
fn a_wiped_device_leaves_no_file_and_no_attachment_behind() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = TestDevice::new(&rt);
    ana.login(&server.url, "ana");
    let (_, visit) = shop_with_visit(&ana, "Qx", "Qx");
    let marker = "QXWIPEDPHOTO";
    ana.store(|s| {
        s.attach(
            &visit,
            "photo",
            &photo(marker, 10_000),
            "image/png",
            "p.png",
            None,
        )
    });
    assert!(
        ana.readable_occurrences(marker.as_bytes()) > 0,
        "positive control"
    );
    ana.device.wipe().expect("wipe");
    assert_eq!(
        files_under(ana.dir()),
        Vec::<std::path::PathBuf>::new(),
        "files left behind"
    );
}

/// Every file below `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A real JPEG photo of `width` × `height` (a gradient).
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 120]))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

#[test]
fn a_photos_thumbnail_is_made_on_the_phone_and_reaches_the_manager_first() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, ana) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    ana.login(&server.url, "ana");
    let (_, visit) = shop_with_visit(&ana, "Miniatura Qx", "Shelf");
    let photo = jpeg(1600, 1200);
    let reference = ana
        .device
        .attach(&visit, "photo", &photo, "image/jpeg", "shelf.jpg")
        .expect("attach");
    let thumbnail = reference.thumbnail.clone().expect("a thumbnail was made");
    let small = ana
        .device
        .thumbnail(&visit, "photo")
        .expect("read")
        .expect("kept");
    assert_eq!(small.len() as u64, thumbnail.size);
    let decoded = image::load_from_memory(&small).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    assert_eq!(ana.sync().files.uploaded, 2, "the photo and its thumbnail");

    manager.sync();
    let held = manager
        .device
        .attachment(&visit, "photo")
        .expect("read")
        .expect("attached");
    assert_eq!(held.reference.thumbnail, Some(thumbnail));
    assert_eq!(
        manager.device.thumbnail(&visit, "photo").expect("read"),
        Some(small)
    );

    // A PDF has none; an unreadable "photo" is still attached, without one.
    let note = ana
        .device
        .attach(
            &visit,
            "document",
            b"%PDF-1.7",
            "application/pdf",
            "note.pdf",
        )
        .expect("pdf");
    assert_eq!(note.thumbnail, None);
    let broken = ana
        .device
        .attach(
            &visit,
            "photo",
            b"\xff\xd8\xff not really",
            "image/jpeg",
            "broken.jpg",
        )
        .expect("kept without a thumbnail");
    assert_eq!(broken.thumbnail, None);
    assert_eq!(ana.device.thumbnail(&visit, "photo").expect("read"), None);
}

#[test]
fn the_prefetch_policy_leaves_large_files_for_when_they_are_opened() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, ana) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    ana.login(&server.url, "ana");
    let (account, visit) = shop_with_visit(&ana, "Política Qx", "Shelf");
    let card = photo("QXCARD", 5_000);
    let contact = ana.create(
        RecordKind::Contact,
        &[("last_name", "Qx"), ("account", &account.to_string())],
    );
    ana.device
        .attach(&visit, "photo", &jpeg(640, 480), "image/jpeg", "shelf.jpg")
        .expect("photo");
    ana.device
        .attach(&contact, "business_card", &card, "image/png", "card.png")
        .expect("card");
    assert_eq!(ana.sync().files.uploaded, 3, "two files and a thumbnail");

    // Activities' files only on demand; contacts' as before (2 MiB).
    manager.device.set_prefetch_limit(RecordKind::Activity, 0);
    assert_eq!(
        manager.sync().files.downloaded,
        2,
        "the card and the photo's thumbnail"
    );
    let photo_here = manager
        .device
        .attachment(&visit, "photo")
        .expect("read")
        .expect("attached");
    assert!(!photo_here.present, "left for when it is opened");
    assert!(
        manager
            .device
            .thumbnail(&visit, "photo")
            .expect("read")
            .is_some()
    );
    assert!(
        manager
            .device
            .attachment(&contact, "business_card")
            .expect("read")
            .expect("card")
            .present
    );
    let opened = rt
        .block_on(manager.device.fetch_attachment(&visit, "photo"))
        .expect("fetch")
        .expect("attached");
    assert_eq!(opened, jpeg(640, 480));
}
