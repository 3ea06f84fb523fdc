//! Thumbnails of photos, made on the device that takes them.
//!
//! A list or a card shows a photo small long before anyone opens it; the
//! thumbnail (a JPEG at most [`MAX_SIDE`] pixels on its longer side) is
//! made once, when the photo is attached, and travels with it as a blob of
//! its own (see [`fieldwork_core::attachment::Thumbnail`]), so other devices
//! show it without downloading the photo.
//!
//! Guarantees: decoding is bounded (at most [`MAX_PIXELS_SIDE`] pixels a
//! side and [`MAX_DECODE_BYTES`] of memory), so a hostile or corrupt file
//! costs a refusal, not the app; a file that is not a JPEG or PNG photo, or
//! cannot be read, simply has no thumbnail (the attachment itself is kept).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageReader, Limits};

/// Longest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 320;
/// Largest image side decoded to make one (a 100-megapixel camera is
/// 12,000 pixels wide).
pub const MAX_PIXELS_SIDE: u32 = 16_384;
/// Most memory a decode may take.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// A JPEG thumbnail of `bytes` (a JPEG or PNG of `media_type`), or `None`
/// when it is not such an image or cannot be read within the bounds.
pub fn make(bytes: &[u8], media_type: &str) -> Option<Vec<u8>> {
    if !matches!(media_type, "image/jpeg" | "image/png") {
        return None;
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().ok()?;
    let small = image.thumbnail(MAX_SIDE, MAX_SIDE).to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage, RgbaImage};

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        if format == ImageFormat::Png {
            RgbaImage::from_fn(width, height, |x, y| {
                image::Rgba([x as u8, y as u8, 90, 200])
            })
            .write_to(&mut out, format)
            .expect("png");
        } else {
            RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]))
                .write_to(&mut out, format)
                .expect("jpeg");
        }
        out.into_inner()
    }

    fn size_of(jpeg: &[u8]) -> (u32, u32) {
        let image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("a JPEG");
        (image.width(), image.height())
    }

    #[test]
    fn photos_shrink_to_the_longest_side_keeping_their_shape() {
        let thumb = make(&encoded(1200, 900, ImageFormat::Jpeg), "image/jpeg").expect("thumb");
        assert_eq!(size_of(&thumb), (320, 240));
        let thumb = make(&encoded(300, 1000, ImageFormat::Png), "image/png").expect("thumb");
        assert_eq!(size_of(&thumb), (96, 320));
    }

    #[test]
    fn what_is_not_a_readable_photo_has_no_thumbnail() {
        assert_eq!(make(b"%PDF-1.7 not a photo", "application/pdf"), None);
        assert_eq!(make(b"\xff\xd8\xff\xe0 truncated", "image/jpeg"), None);
        let mut png = encoded(40, 40, ImageFormat::Png);
        png.truncate(png.len() / 2);
        assert_eq!(make(&png, "image/png"), None);
    }

    #[test]
    fn an_image_claiming_enormous_dimensions_is_refused_before_decoding() {
        // A PNG header that claims 100,000 × 100,000 pixels (40 GB decoded).
        let mut png = encoded(1, 1, ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(make(&png, "image/png"), None);
    }
}
