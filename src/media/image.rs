//! Image files to RGB: size limits checked before full decoding (so a
//! decompression bomb is refused cheaply), EXIF orientation applied, alpha
//! flattened onto white, animated formats reduced to their first frame.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::budget::MediaBudget;
use super::error::{MediaError, Result};
use super::Image;

/// Bounds for accepted images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_file_bytes: u64,
    /// Largest image accepted, by its header (checked before decoding).
    pub max_pixels: u64,
    pub max_side: u32,
    /// Larger images are scaled down to this many pixels right after
    /// decoding (aspect kept): more than any projector takes (they resize
    /// to ~0.2–4 MP themselves), so only memory is saved.
    pub max_working_pixels: u64,
}

impl Default for ImageLimits {
    /// 64 MiB files, 50 megapixels, 16384 px per side: beyond any camera a
    /// person has, and far below what would exhaust memory. Kept at up to
    /// 2048×2048 px after decoding.
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 20,
            max_pixels: 50_000_000,
            max_side: 16_384,
            max_working_pixels: 2048 * 2048,
        }
    }
}

/// Decode an image file within `limits`.
///
/// # Errors
/// `NotFound`, `FileTooLarge`, `Empty`, `NotAnImage` (unknown format),
/// `ImageTooLarge` (declared dimensions over the limits) and `BadImage`
/// (corrupt data).
pub fn load(path: &Path, limits: &ImageLimits) -> Result<Image> {
    load_with(path, limits, &mut |_, _| Ok(()))
}

/// [`load`], counted against one request's `budget` (one attachment, its
/// declared pixels) before the image is decoded.
///
/// # Errors
/// As [`load`], plus `TooManyMedia` and `RequestTotal`.
pub fn load_counted(path: &Path, limits: &ImageLimits, budget: &mut MediaBudget) -> Result<Image> {
    budget.admit_item(path)?;
    load_with(path, limits, &mut |w, h| budget.admit_pixels(path, w, h))
}

fn load_with(path: &Path, limits: &ImageLimits, admit: &mut Admit<'_>) -> Result<Image> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    MediaError::check_size(path, "image", meta.len(), limits.max_file_bytes)?;
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    decode(BufReader::new(file), path, limits, admit)
}

/// Decode an image held in memory (an upload, a data URL) within the same
/// `limits` as [`load`]. `name` stands in for a path in error messages.
/// Safe on any bytes (a fuzzing entry point).
///
/// # Errors
/// As [`load`], except `NotFound`/`Io`.
pub fn load_bytes(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<Image> {
    load_bytes_with(bytes, name, limits, &mut |_, _| Ok(()))
}

/// [`load_bytes`], counted against one request's `budget` (see [`load_counted`]).
///
/// # Errors
/// As [`load_bytes`], plus `TooManyMedia` and `RequestTotal`.
pub fn load_bytes_counted(
    bytes: &[u8],
    name: &str,
    limits: &ImageLimits,
    budget: &mut MediaBudget,
) -> Result<Image> {
    let path = Path::new(name);
    budget.admit_item(path)?;
    load_bytes_with(bytes, name, limits, &mut |w, h| {
        budget.admit_pixels(path, w, h)
    })
}

fn load_bytes_with(
    bytes: &[u8],
    name: &str,
    limits: &ImageLimits,
    admit: &mut Admit<'_>,
) -> Result<Image> {
    let path = Path::new(name);
    MediaError::check_size(path, "image", bytes.len() as u64, limits.max_file_bytes)?;
    decode(Cursor::new(bytes), path, limits, admit)
}

/// The dimensions an image's header declares, read from its first bytes
/// alone (nothing is decoded); `None` when they are not among `head`.
/// Lets a caller check a whole request's total before decoding any of it.
pub fn declared_size(head: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(head))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// Called with the header's dimensions before decoding; an error stops it.
type Admit<'a> = dyn FnMut(u32, u32) -> Result<()> + 'a;

/// The shared decoder: format sniffing, header checks, bounded decoding.
fn decode<R: BufRead + Seek>(
    input: R,
    path: &Path,
    limits: &ImageLimits,
    admit: &mut Admit<'_>,
) -> Result<Image> {
    let mut reader = ImageReader::new(input)
        .with_guessed_format()
        .map_err(|e| MediaError::io(path, e))?;
    // Bound what the decoder may allocate while it reads the header, too.
    // No side limit here: the check below reports the claimed size, which
    // the decoder's own limit error would not.
    let mut header_limits = Limits::default();
    header_limits.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(16)
            .saturating_add(64 << 20),
    );
    reader.limits(header_limits);
    if reader.format().is_none() {
        return Err(MediaError::NotAnImage {
            path: path.into(),
            reason: "unrecognised file signature".into(),
        });
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| header_error(path, e, limits))?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 {
        return Err(MediaError::BadImage {
            path: path.into(),
            reason: "zero width or height".into(),
        });
    }
    if pixels > limits.max_pixels || w > limits.max_side || h > limits.max_side {
        return Err(MediaError::ImageTooLarge {
            path: path.into(),
            width: w.into(),
            height: h.into(),
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    admit(w, h)?;
    let mut alloc_limits = Limits::default();
    alloc_limits.max_image_width = Some(limits.max_side);
    alloc_limits.max_image_height = Some(limits.max_side);
    // Room for the decoded frame at the widest sample type, plus slack.
    alloc_limits.max_alloc = Some(pixels.saturating_mul(16).saturating_add(64 << 20));
    decoder.set_limits(alloc_limits).map_err(|e| bad(path, e))?;
    // A missing or unreadable EXIF block just means "upright".
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| bad(path, e))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let img = to_working_size(img, limits.max_working_pixels);
    let (width, height, rgb) = flatten_to_rgb(img);
    Image::from_rgb(width, height, rgb).ok_or_else(|| MediaError::BadImage {
        path: path.into(),
        reason: "decoded to no pixels".into(),
    })
}

/// Scale `img` down (aspect kept) to at most `max_pixels`, so a large photo
/// does not occupy hundreds of MB for the rest of the turn.
fn to_working_size(img: DynamicImage, max_pixels: u64) -> DynamicImage {
    let (w, h) = (u64::from(img.width()), u64::from(img.height()));
    if max_pixels == 0 || w * h <= max_pixels {
        return img;
    }
    let scale = (max_pixels as f64 / (w * h) as f64).sqrt();
    let nw = ((w as f64 * scale).floor() as u32).max(1);
    let nh = ((h as f64 * scale).floor() as u32).max(1);
    img.resize_exact(nw, nh, image::imageops::FilterType::Triangle)
}

/// A header the decoder refused: over the limits, or not an image.
fn header_error(path: &Path, e: image::ImageError, limits: &ImageLimits) -> MediaError {
    match e {
        image::ImageError::Limits(_) => MediaError::ImageTooLarge {
            path: path.into(),
            width: 0,
            height: 0,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        },
        other => bad(path, other),
    }
}

/// A PNG preview of `img` no larger than `max_side` on either side, so a
/// front end can show what the model will see (after EXIF rotation and
/// alpha flattening) without handing it the original file.
pub fn thumbnail_png(img: &Image, max_side: u32) -> Vec<u8> {
    let Some(buf) = image::RgbImage::from_raw(img.width, img.height, img.rgb.to_vec()) else {
        return Vec::new();
    };
    let img = DynamicImage::ImageRgb8(buf);
    let side = max_side.max(1);
    // Small images stay as they are: a preview never invents pixels.
    let thumb = if img.width() <= side && img.height() <= side {
        img
    } else {
        img.thumbnail(side, side)
    };
    let mut out = std::io::Cursor::new(Vec::new());
    match thumb.write_to(&mut out, image::ImageFormat::Png) {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}

/// Write `img` to `path`, as PNG or JPEG by the extension (PNG when it
/// names neither), e.g. a camera snapshot the user asked to keep.
///
/// # Errors
/// `BadImage` for a pixel buffer that does not match its size; `Io` when
/// the file cannot be written.
pub fn save(img: &Image, path: &Path) -> Result<()> {
    let buf =
        image::RgbImage::from_raw(img.width, img.height, img.rgb.to_vec()).ok_or_else(|| {
            MediaError::BadImage {
                path: path.into(),
                reason: "the pixel buffer does not match the image size".into(),
            }
        })?;
    let format = image::ImageFormat::from_path(path)
        .ok()
        .filter(|f| matches!(f, image::ImageFormat::Jpeg))
        .unwrap_or(image::ImageFormat::Png);
    buf.save_with_format(path, format)
        .map_err(|e| MediaError::Io {
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// Composite any alpha onto white: transparent regions look like paper,
/// not black, to the vision encoder.
fn flatten_to_rgb(img: DynamicImage) -> (u32, u32, Vec<u8>) {
    if !img.color().has_alpha() {
        let rgb = img.into_rgb8();
        return (rgb.width(), rgb.height(), rgb.into_raw());
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        let a = u16::from(a);
        for c in [r, g, b] {
            out.push(((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    (w, h, out)
}

fn bad(path: &Path, e: image::ImageError) -> MediaError {
    match e {
        image::ImageError::Unsupported(u) => MediaError::NotAnImage {
            path: path.into(),
            reason: u.to_string(),
        },
        image::ImageError::Limits(l) => MediaError::BadImage {
            path: path.into(),
            reason: format!("over the memory limit: {l}"),
        },
        other => MediaError::BadImage {
            path: path.into(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgba};

    fn write_png(dir: &Path, name: &str, img: &DynamicImage) -> std::path::PathBuf {
        let p = dir.join(name);
        img.save(&p).unwrap();
        p
    }

    #[test]
    fn transparent_pixels_become_white() {
        let dir = tempfile::tempdir().unwrap();
        let img = ImageBuffer::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgba([0, 0, 0, 0])
            } else {
                Rgba([10, 20, 30, 255])
            }
        });
        let p = write_png(dir.path(), "a.png", &DynamicImage::ImageRgba8(img));
        let out = load(&p, &ImageLimits::default()).unwrap();
        assert_eq!(*out.rgb, vec![255, 255, 255, 10, 20, 30]);
    }

    #[test]
    fn pixel_limit_is_checked_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let img = DynamicImage::new_rgb8(100, 100);
        let p = write_png(dir.path(), "big.png", &img);
        let limits = ImageLimits {
            max_pixels: 9_999,
            ..Default::default()
        };
        assert!(matches!(
            load(&p, &limits),
            Err(MediaError::ImageTooLarge {
                width: 100,
                height: 100,
                ..
            })
        ));
    }

    /// A PNG whose IHDR claims `w`×`h` over one row of real data.
    fn lying_png(w: u32, h: u32) -> Vec<u8> {
        let mut real = std::io::Cursor::new(Vec::new());
        DynamicImage::new_rgb8(1, 1)
            .write_to(&mut real, image::ImageFormat::Png)
            .unwrap();
        let mut b = real.into_inner();
        // IHDR data starts at byte 16: width, height; then its CRC at 29.
        b[16..20].copy_from_slice(&w.to_be_bytes());
        b[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&b[12..29]);
        b[29..33].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &byte in data {
            c ^= u32::from(byte);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn lying_headers_are_refused_before_decoding() {
        for (w, h) in [(100_000, 100_000), (16_384, 16_384), (1, 1 << 30)] {
            let e = load_bytes(&lying_png(w, h), "lie.png", &ImageLimits::default()).unwrap_err();
            assert_eq!(e.code(), "IMAGE_TOO_LARGE", "{w}×{h}: {e}");
        }
        // Within the limits, the missing data is a damaged image.
        let e = load_bytes(&lying_png(4000, 4000), "lie.png", &ImageLimits::default()).unwrap_err();
        assert!(matches!(e, MediaError::BadImage { .. }), "{e:?}");
    }

    #[test]
    fn a_request_budget_counts_images_and_declared_pixels() {
        let mut png = std::io::Cursor::new(Vec::new());
        DynamicImage::new_rgb8(10, 10)
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let png = png.into_inner();
        let mut budget = MediaBudget::new(crate::media::RequestLimits {
            max_media: 3,
            max_total_pixels: 250,
            max_total_audio_seconds: 0.0,
        });
        let limits = ImageLimits::default();
        load_bytes_counted(&png, "a", &limits, &mut budget).unwrap();
        load_bytes_counted(&png, "b", &limits, &mut budget).unwrap();
        let e = load_bytes_counted(&png, "c", &limits, &mut budget).unwrap_err();
        assert_eq!(e.code(), "MEDIA_REQUEST_TOTAL", "{e}");
        let e = load_bytes_counted(&png, "d", &limits, &mut budget).unwrap_err();
        assert_eq!(e.code(), "TOO_MANY_MEDIA", "{e}");
    }

    #[test]
    fn large_images_are_kept_at_the_working_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_png(dir.path(), "w.png", &DynamicImage::new_rgb8(400, 100));
        let limits = ImageLimits {
            max_working_pixels: 10_000,
            ..Default::default()
        };
        let img = load(&p, &limits).unwrap();
        assert_eq!((img.width, img.height), (200, 50));
        assert_eq!(img.rgb.len(), 200 * 50 * 3);
    }

    #[test]
    fn text_renamed_png_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        std::fs::write(&p, "hello, not a picture").unwrap();
        assert!(matches!(
            load(&p, &ImageLimits::default()),
            Err(MediaError::NotAnImage { .. })
        ));
    }

    #[test]
    fn truncated_png_is_a_bad_image_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_png(dir.path(), "t.png", &DynamicImage::new_rgb8(64, 64));
        let bytes = std::fs::read(&p).unwrap();
        for cut in [9, 40, bytes.len() / 2, bytes.len() - 5] {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(load(&p, &ImageLimits::default()).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn thumbnail_keeps_aspect_within_bound() {
        let img = Image::from_rgb(40, 20, vec![7; 40 * 20 * 3]).unwrap();
        let png = thumbnail_png(&img, 10);
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!((back.width(), back.height()), (10, 5));
        let small = image::load_from_memory(&thumbnail_png(&img, 100)).unwrap();
        assert_eq!((small.width(), small.height()), (40, 20), "not enlarged");
    }

    #[test]
    fn bytes_decode_like_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let img = ImageBuffer::from_fn(3, 2, |x, y| Rgba([x as u8, y as u8, 7, 255]));
        let p = write_png(dir.path(), "b.png", &DynamicImage::ImageRgba8(img));
        let from_file = load(&p, &ImageLimits::default()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let from_bytes = load_bytes(&bytes, "upload", &ImageLimits::default()).unwrap();
        assert_eq!(from_file, from_bytes);
        let tight = ImageLimits {
            max_file_bytes: 10,
            ..Default::default()
        };
        assert!(matches!(
            load_bytes(&bytes, "upload", &tight),
            Err(MediaError::FileTooLarge { .. })
        ));
        assert!(matches!(
            load_bytes(b"", "upload", &ImageLimits::default()),
            Err(MediaError::Empty { .. })
        ));
    }

    #[test]
    fn same_pixels_same_hash() {
        let a = Image::from_rgb(1, 1, vec![1, 2, 3]).unwrap();
        let b = Image::from_rgb(1, 1, vec![1, 2, 3]).unwrap();
        let c = Image::from_rgb(1, 1, vec![1, 2, 4]).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert!(Image::from_rgb(2, 2, vec![0; 3]).is_none());
    }
}
