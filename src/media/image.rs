//! Image files to RGB: size limits checked before full decoding (so a
//! decompression bomb is refused cheaply), EXIF orientation applied, alpha
//! flattened onto white, animated formats reduced to their first frame.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::error::{MediaError, Result};
use super::Image;

/// Bounds for accepted images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_file_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Default for ImageLimits {
    /// 64 MiB files, 50 megapixels, 16384 px per side: beyond any camera a
    /// person has, and far below what would exhaust memory.
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 20,
            max_pixels: 50_000_000,
            max_side: 16_384,
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
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    MediaError::check_size(path, "image", meta.len(), limits.max_file_bytes)?;
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    decode(BufReader::new(file), path, limits)
}

/// Decode an image held in memory (an upload, a data URL) within the same
/// `limits` as [`load`]. `name` stands in for a path in error messages.
///
/// # Errors
/// As [`load`], except `NotFound`/`Io`.
pub fn load_bytes(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<Image> {
    let path = Path::new(name);
    MediaError::check_size(path, "image", bytes.len() as u64, limits.max_file_bytes)?;
    decode(Cursor::new(bytes), path, limits)
}

/// The shared decoder: format sniffing, header checks, bounded decoding.
fn decode<R: BufRead + Seek>(input: R, path: &Path, limits: &ImageLimits) -> Result<Image> {
    let reader = ImageReader::new(input)
        .with_guessed_format()
        .map_err(|e| MediaError::io(path, e))?;
    if reader.format().is_none() {
        return Err(MediaError::NotAnImage {
            path: path.into(),
            reason: "unrecognised file signature".into(),
        });
    }
    let mut decoder = reader.into_decoder().map_err(|e| bad(path, e))?;
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
    let (width, height, rgb) = flatten_to_rgb(img);
    Image::from_rgb(width, height, rgb).ok_or_else(|| MediaError::BadImage {
        path: path.into(),
        reason: "decoded to no pixels".into(),
    })
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
