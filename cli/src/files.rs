//! `fieldwork attach` and `fieldwork attachment`: photos and files on
//! records from the command line.

use std::path::Path;

use anyhow::Context;
use fieldwork_core::RecordId;

use crate::args::{AttachArgs, AttachmentArgs, Global};
use crate::device::open_device;
use crate::output::Output;
use crate::sync::runtime;

/// `fieldwork attach ID FIELD FILE`: kept on the device at once, uploaded
/// by the next `fieldwork sync`.
pub fn attach(global: &Global, out: &Output, args: AttachArgs) -> anyhow::Result<()> {
    let id: RecordId = args.id.parse()?;
    let file = Path::new(&args.file);
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > fieldwork_core::attachment::MAX_ATTACHMENT_BYTES {
        anyhow::bail!(
            "{} is {size} bytes; attachments are limited to 25 MiB",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("the file has no name; pass --name")?,
    };
    let media_type = args
        .media_type
        .clone()
        .unwrap_or_else(|| media_type_of(&name).to_owned());
    let device = open_device(global)?;
    let reference = device.attach(&id, &args.field, &bytes, &media_type, &name)?;
    if out.json {
        return out.json(&reference);
    }
    println!(
        "attached {} ({} bytes, {}) to {id} {}; `fieldwork sync` uploads it",
        reference.name, reference.size, reference.media_type, args.field
    );
    Ok(())
}

/// `fieldwork attachment ID FIELD [--out FILE]`: what the field holds; with
/// `--out`, its bytes (downloaded first if they are not on the device).
pub fn attachment(global: &Global, out: &Output, args: AttachmentArgs) -> anyhow::Result<()> {
    let id: RecordId = args.id.parse()?;
    let device = open_device(global)?;
    let Some(found) = device.attachment(&id, &args.field)? else {
        anyhow::bail!("{id} has no attachment in `{}`", args.field);
    };
    if let Some(path) = &args.out {
        let bytes = runtime()?
            .block_on(device.fetch_attachment(&id, &args.field))?
            .context("the attachment was removed meanwhile")?;
        std::fs::write(path, &bytes).with_context(|| format!("cannot write {path}"))?;
    }
    let held = device.attachment(&id, &args.field)?.unwrap_or(found);
    if out.json {
        return out.json(&serde_json::json!({
            "reference": held.reference,
            "present": held.present,
            "uploaded": held.uploaded,
        }));
    }
    println!(
        "{} ({} bytes, {}), sha256 {}; {}, {}",
        held.reference.name,
        held.reference.size,
        held.reference.media_type,
        held.reference.sha256,
        if held.present {
            "on this device"
        } else {
            "not downloaded"
        },
        if held.uploaded {
            "on the server"
        } else {
            "not uploaded yet"
        },
    );
    Ok(())
}

/// The media type a file name suggests (`application/octet-stream` when
/// the extension says nothing).
fn media_type_of(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("heic") => "image/heic",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(super::media_type_of("Shelf.JPG"), "image/jpeg");
        assert_eq!(super::media_type_of("albarán.pdf"), "application/pdf");
        assert_eq!(
            super::media_type_of("noextension"),
            "application/octet-stream"
        );
    }
}
