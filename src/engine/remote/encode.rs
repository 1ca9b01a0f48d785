//! Engine requests to OpenAI request bodies: text with images as PNG
//! `data:` URLs and clips as WAV `input_audio`, in the same order the
//! local engine would place them. Pure CPU work, no I/O.

use base64::Engine as _;

use super::error::RemoteError;
use crate::chat::ChatMessage;
use crate::engine::GenerateRequest;
use crate::media::{Audio, Image, Media};
use crate::openai::{
    ChatCompletionRequest, ContentPart, ImageUrl, InputAudio, MessageContent, RequestMessage, Stop,
    StreamOptions,
};

/// The streaming request body for `request`.
///
/// # Errors
/// `Encode` when an image cannot be written as PNG.
pub(crate) fn request(
    request: &GenerateRequest,
    model: &str,
) -> Result<ChatCompletionRequest, RemoteError> {
    let messages = request
        .messages
        .iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    let s = &request.sampling;
    Ok(ChatCompletionRequest {
        model: Some(model.to_string()),
        messages,
        max_tokens: Some(request.max_tokens),
        max_completion_tokens: None,
        temperature: Some(s.temperature),
        top_p: Some(s.top_p),
        seed: s.seed.map(i64::from),
        stop: (!request.stop.is_empty()).then(|| Stop::Many(request.stop.clone())),
        stream: Some(true),
        stream_options: Some(StreamOptions {
            include_usage: true,
        }),
        n: None,
    })
}

fn message(m: &ChatMessage) -> Result<RequestMessage, RemoteError> {
    let role = m.role.as_str().to_string();
    if m.media.is_empty() {
        return Ok(RequestMessage {
            role,
            content: Some(MessageContent::Text(m.content.clone())),
        });
    }
    let marker = crate::engine::media::marker();
    let mut parts = Vec::new();
    let placed = m.content.matches(marker).count() == m.media.len();
    if placed {
        // Media where the markers are, text between them.
        let mut media = m.media.iter();
        for (i, text) in m.content.split(marker).enumerate() {
            if i > 0 {
                if let Some(item) = media.next() {
                    parts.push(part(item)?);
                }
            }
            if !text.is_empty() {
                parts.push(ContentPart::Text {
                    text: text.to_string(),
                });
            }
        }
    } else {
        // As the local engine does: media first, then the text.
        for item in &m.media {
            parts.push(part(item)?);
        }
        parts.push(ContentPart::Text {
            text: m.content.replace(marker, ""),
        });
    }
    Ok(RequestMessage {
        role,
        content: Some(MessageContent::Parts(parts)),
    })
}

fn part(media: &Media) -> Result<ContentPart, RemoteError> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(match media {
        Media::Image(img) => ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: format!("data:image/png;base64,{}", b64(&png(img)?)),
                detail: None,
            },
        },
        Media::Audio(a) => ContentPart::InputAudio {
            input_audio: InputAudio {
                data: b64(&wav(a)),
                format: "wav".into(),
            },
        },
    })
}

/// Lossless, so the server sees the pixels we decoded.
fn png(img: &Image) -> Result<Vec<u8>, RemoteError> {
    let encode_err = |reason: String| RemoteError::Encode {
        kind: "image",
        reason,
    };
    let buf = image::RgbImage::from_raw(img.width, img.height, img.rgb.to_vec())
        .ok_or_else(|| encode_err("pixel buffer does not match its size".into()))?;
    let mut out = std::io::Cursor::new(Vec::new());
    buf.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| encode_err(e.to_string()))?;
    Ok(out.into_inner())
}

/// 16-bit PCM mono WAV at the clip's rate.
fn wav(a: &Audio) -> Vec<u8> {
    let data_len = (a.samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&a.sample_rate.to_le_bytes());
    b.extend_from_slice(&(a.sample_rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in a.samples.iter() {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Role;
    use crate::media::audio::AudioLimits;

    #[test]
    fn wav_round_trips_through_the_decoder() {
        let samples: Vec<f32> = (0..1600).map(|i| ((i as f32) * 0.05).sin() * 0.5).collect();
        let a = Audio::from_samples(16_000, samples.clone()).unwrap();
        let back = crate::media::audio::load_bytes(
            wav(&a),
            Some("wav"),
            "t",
            16_000,
            &AudioLimits::default(),
        )
        .unwrap();
        assert_eq!(back.samples.len(), samples.len());
        let err = back
            .samples
            .iter()
            .zip(&samples)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn media_go_first_unless_placed() {
        let img = Media::Image(Image::from_rgb(1, 1, vec![1, 2, 3]).unwrap());
        let m = ChatMessage::with_media(Role::User, "what?", vec![img.clone()]);
        let RequestMessage {
            content: Some(MessageContent::Parts(parts)),
            ..
        } = message(&m).unwrap()
        else {
            panic!("parts expected")
        };
        assert!(matches!(parts[0], ContentPart::ImageUrl { .. }));
        assert_eq!(
            parts[1],
            ContentPart::Text {
                text: "what?".into()
            }
        );
        let marker = crate::engine::media::marker();
        let m = ChatMessage::with_media(Role::User, format!("a{marker}b"), vec![img]);
        let Some(MessageContent::Parts(parts)) = message(&m).unwrap().content else {
            panic!("parts expected")
        };
        assert_eq!(parts.len(), 3);
        assert!(matches!(parts[1], ContentPart::ImageUrl { .. }));
    }
}
