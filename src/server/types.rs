//! Translation between the OpenAI wire types ([`crate::openai`]) and the
//! engine's: a request becomes a [`GenerateRequest`] (media decoded from
//! `data:` URLs and base64 within the media module's limits), and an
//! outcome becomes a response body. Pure functions; media decoding is CPU
//! work, so callers run [`prepare`] on a blocking thread.

use base64::Engine as _;

use super::error::ApiError;
use crate::chat::{ChatMessage, Role};
use crate::engine::{FinishReason, GenerateRequest, GenerationOutcome, SamplingParams};
use crate::media::{
    self, audio::AudioLimits, image::ImageLimits, Media, MediaBudget, RequestLimits,
};
use crate::openai::{
    ChatCompletion, ChatCompletionRequest, Choice, ContentPart, MessageContent, RequestMessage,
    ResponseMessage, Usage,
};

/// At most this many stop strings (OpenAI allows 4; be generous).
const MAX_STOP: usize = crate::engine::MAX_STOP_STRINGS;
/// The longest stop string.
const MAX_STOP_BYTES: usize = crate::engine::MAX_STOP_BYTES;
/// Messages one request may carry by default. A history this long is far
/// beyond any context; it is fitted (oldest dropped) in linear time, but
/// parsing and holding it is still work no client needs.
pub const DEFAULT_MAX_MESSAGES: usize = 4096;
/// Audio containers `input_audio.format` may name.
const AUDIO_FORMATS: [&str; 4] = ["wav", "mp3", "flac", "ogg"];

/// Server-wide defaults for what a request leaves out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub sampling: SamplingParams,
    pub max_tokens: u32,
    /// Rate audio is resampled to (the projector's).
    pub audio_rate: u32,
    pub image_limits: ImageLimits,
    pub audio_limits: AudioLimits,
    /// Totals of all media in one request.
    pub request_limits: RequestLimits,
    /// Messages one request may carry.
    pub max_messages: usize,
}

impl Default for Defaults {
    /// Default sampling, 512 tokens, 16 kHz audio, default limits.
    fn default() -> Self {
        Self {
            sampling: SamplingParams::default(),
            max_tokens: 512,
            audio_rate: 16_000,
            image_limits: ImageLimits::default(),
            audio_limits: AudioLimits::default(),
            request_limits: RequestLimits::default(),
            max_messages: DEFAULT_MAX_MESSAGES,
        }
    }
}

impl Defaults {
    /// The configured sampling and answer length, the engine's audio rate
    /// and the default media limits.
    pub fn for_engine(
        config: &crate::config::Config,
        engine: &crate::engine::EngineHandle,
    ) -> Self {
        Self {
            sampling: config.sampling.clone(),
            max_tokens: config.max_tokens,
            audio_rate: engine
                .info()
                .capabilities
                .audio_sample_rate
                .unwrap_or(16_000),
            ..Self::default()
        }
    }
}

/// A request ready for the engine.
#[derive(Debug)]
pub struct Prepared {
    pub request: GenerateRequest,
    pub stream: bool,
    pub include_usage: bool,
}

/// The checks that need no decoding: message count, media count, stop
/// strings. Cheap, so a server runs them before queueing anything.
///
/// # Errors
/// A 400 [`ApiError`] naming the limit.
pub fn check_shape(req: &ChatCompletionRequest, defaults: &Defaults) -> Result<(), ApiError> {
    if req.messages.len() > defaults.max_messages {
        return Err(ApiError::bad_request(
            "too_many_messages",
            format!(
                "{} messages is over the limit of {}; send only the recent part of the conversation",
                req.messages.len(),
                defaults.max_messages
            ),
        ));
    }
    let media = req
        .messages
        .iter()
        .filter_map(|m| match &m.content {
            Some(MessageContent::Parts(p)) => Some(p),
            _ => None,
        })
        .flatten()
        .filter(|p| !matches!(p, ContentPart::Text { .. }))
        .count();
    if media > defaults.request_limits.max_media {
        return Err(ApiError::bad_request(
            "too_many_media",
            format!(
                "{media} images and audio clips is over the limit of {} per request",
                defaults.request_limits.max_media
            ),
        ));
    }
    if let Some(stop) = &req.stop {
        let many = match stop {
            crate::openai::Stop::One(s) => std::slice::from_ref(s),
            crate::openai::Stop::Many(v) => v.as_slice(),
        };
        if many.len() > MAX_STOP {
            return Err(ApiError::bad_request(
                "invalid_stop",
                format!("at most {MAX_STOP} stop strings are supported"),
            ));
        }
        if many.iter().any(|s| s.len() > MAX_STOP_BYTES) {
            return Err(ApiError::bad_request(
                "invalid_stop",
                format!("a stop string may be at most {MAX_STOP_BYTES} bytes"),
            ));
        }
    }
    Ok(())
}

/// Refuse a request whose images' headers already add up to more pixels
/// than one request may have, before any of them is decoded (each is
/// counted again, exactly, while decoding).
fn check_declared_pixels(req: &ChatCompletionRequest, defaults: &Defaults) -> Result<(), ApiError> {
    // Enough base64 for any PNG/GIF/BMP/WebP header and most JPEG ones.
    const HEAD_CHARS: usize = 4 * (64 << 10) / 3 / 4 * 4;
    let mut total = 0u64;
    for (i, m) in req.messages.iter().enumerate() {
        let Some(MessageContent::Parts(parts)) = &m.content else {
            continue;
        };
        for (j, part) in parts.iter().enumerate() {
            let ContentPart::ImageUrl { image_url } = part else {
                continue;
            };
            let Some((_, payload)) = image_url.url.split_once(',') else {
                continue;
            };
            let payload = payload.trim();
            let mut end = payload.len().min(HEAD_CHARS) / 4 * 4;
            while end > 0 && !payload.is_char_boundary(end) {
                end -= 4;
            }
            let Ok(head) = base64::engine::general_purpose::STANDARD.decode(&payload[..end]) else {
                continue;
            };
            if let Some((w, h)) = media::image::declared_size(&head) {
                let pixels = u64::from(w) * u64::from(h);
                let limits = &defaults.image_limits;
                if pixels > limits.max_pixels || w > limits.max_side || h > limits.max_side {
                    // Too large on its own: that is the clearer error.
                    return Err(media::MediaError::ImageTooLarge {
                        path: format!("messages[{i}].content[{j}]").into(),
                        width: w.into(),
                        height: h.into(),
                        max_pixels: limits.max_pixels,
                        max_side: limits.max_side,
                    }
                    .into());
                }
                total = total.saturating_add(pixels);
                if total > defaults.request_limits.max_total_pixels {
                    return Err(media::MediaError::RequestTotal {
                        path: format!("messages[{i}].content[{j}]").into(),
                        limit: format!("{} pixels", defaults.request_limits.max_total_pixels),
                    }
                    .into());
                }
            }
        }
    }
    Ok(())
}

/// Validate `req` and decode its media, all of them within one
/// [`MediaBudget`] of `defaults.request_limits`.
///
/// # Errors
/// A 400 [`ApiError`] naming the offending field (413 for media over the
/// request's totals).
pub fn prepare(req: ChatCompletionRequest, defaults: &Defaults) -> Result<Prepared, ApiError> {
    check_shape(&req, defaults)?;
    check_declared_pixels(&req, defaults)?;
    if req.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            "only n = 1 is supported",
        ));
    }
    if req.messages.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_messages",
            "messages must not be empty",
        ));
    }
    let mut sampling = defaults.sampling.clone();
    if let Some(t) = req.temperature {
        sampling.temperature = t;
    }
    if let Some(p) = req.top_p {
        sampling.top_p = p;
    }
    if let Some(seed) = req.seed {
        // Any integer is a valid OpenAI seed; fold it into llama.cpp's u32.
        sampling.seed = Some(seed.rem_euclid(1 << 32) as u32);
    }
    sampling
        .validate()
        .map_err(|e| ApiError::bad_request("invalid_sampling", e.to_string()))?;
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(defaults.max_tokens);
    if max_tokens == 0 {
        return Err(ApiError::bad_request(
            "invalid_max_tokens",
            "max_tokens must be at least 1",
        ));
    }
    let stop: Vec<String> = req
        .stop
        .map(|s| s.into_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if stop.len() > MAX_STOP {
        return Err(ApiError::bad_request(
            "invalid_stop",
            format!("at most {MAX_STOP} stop strings are supported"),
        ));
    }
    let mut budget = MediaBudget::new(defaults.request_limits);
    let messages = req
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m, defaults, &mut budget))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared {
        request: GenerateRequest {
            messages,
            sampling,
            max_tokens,
            stop,
        },
        stream: req.stream.unwrap_or(false),
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
    })
}

fn role(i: usize, name: &str) -> Result<Role, ApiError> {
    match name {
        // OpenAI's newer name for system instructions.
        "developer" => Ok(Role::System),
        other => other.parse().map_err(|e: crate::chat::UnknownRole| {
            ApiError::bad_request("invalid_role", format!("messages[{i}].role: {e}"))
        }),
    }
}

/// One message: text parts joined by newlines, media decoded. Media that
/// come before any text go up front (as the CLI attaches them); media after
/// text keep their place through the engine's media marker.
fn message(
    i: usize,
    m: RequestMessage,
    defaults: &Defaults,
    budget: &mut MediaBudget,
) -> Result<ChatMessage, ApiError> {
    let role = role(i, &m.role)?;
    let marker = crate::engine::media::marker();
    // A marker typed by the client would be taken for an attachment.
    let clean = |s: &str| s.replace(marker, "");
    let parts = match m.content {
        None => return Ok(ChatMessage::new(role, "")),
        Some(MessageContent::Text(s)) => return Ok(ChatMessage::new(role, clean(&s))),
        Some(MessageContent::Parts(p)) => p,
    };
    let mut text = String::new();
    let mut media = Vec::new();
    let mut inline = false;
    let mut last_was_text = false;
    for (j, part) in parts.into_iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text { text: t } => {
                if last_was_text {
                    text.push('\n');
                }
                text.push_str(&clean(&t));
                last_was_text = true;
            }
            ContentPart::ImageUrl { image_url } => {
                let bytes = data_url(&image_url.url, &at)?;
                let image =
                    media::image::load_bytes_counted(&bytes, &at, &defaults.image_limits, budget)?;
                media.push(Media::Image(image));
                inline |= !text.is_empty();
                if inline {
                    text.push_str(marker);
                }
                last_was_text = false;
            }
            ContentPart::InputAudio { input_audio } => {
                let format = input_audio.format.to_ascii_lowercase();
                if !AUDIO_FORMATS.contains(&format.as_str()) {
                    return Err(ApiError::bad_request(
                        "invalid_audio_format",
                        format!(
                            "{at}.input_audio.format {:?} is not one of {}",
                            input_audio.format,
                            AUDIO_FORMATS.join(", ")
                        ),
                    ));
                }
                let bytes = base64_decode(&input_audio.data, &format!("{at}.input_audio.data"))?;
                let audio = media::audio::load_bytes_counted(
                    bytes,
                    Some(&format),
                    &at,
                    defaults.audio_rate,
                    &defaults.audio_limits,
                    budget,
                )?;
                media.push(Media::Audio(audio));
                inline |= !text.is_empty();
                if inline {
                    text.push_str(marker);
                }
                last_was_text = false;
            }
        }
    }
    if inline {
        // Media that preceded the first text still need their markers.
        let placed = text.matches(marker).count();
        let missing = media.len() - placed;
        text = marker.repeat(missing) + &text;
    }
    Ok(ChatMessage::with_media(role, text, media))
}

/// The bytes of a base64 `data:` URL. Other URLs are refused: fetching
/// them would send data off this machine.
fn data_url(url: &str, at: &str) -> Result<Vec<u8>, ApiError> {
    let Some(rest) = url.strip_prefix("data:") else {
        let scheme = url.split(':').next().unwrap_or_default();
        return Err(ApiError::bad_request(
            "remote_url_refused",
            format!(
                "{at}.image_url: only data: URLs are accepted ({scheme}: URLs are not fetched, \
                 so nothing leaves this machine); send the image as data:image/png;base64,…"
            ),
        ));
    };
    let Some((meta, payload)) = rest.split_once(',') else {
        return Err(ApiError::bad_request(
            "invalid_data_url",
            format!("{at}.image_url: a data: URL needs a comma before its data"),
        ));
    };
    if !meta.split(';').any(|p| p.eq_ignore_ascii_case("base64")) {
        return Err(ApiError::bad_request(
            "invalid_data_url",
            format!("{at}.image_url: the data: URL must be base64 (data:image/png;base64,…)"),
        ));
    }
    base64_decode(payload, &format!("{at}.image_url"))
}

fn base64_decode(data: &str, at: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::bad_request("invalid_base64", format!("{at}: bad base64: {e}")))
}

/// OpenAI's `finish_reason` for an outcome.
pub fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop | FinishReason::StopString | FinishReason::Cancelled => "stop",
        FinishReason::MaxTokens | FinishReason::ContextFull => "length",
    }
}

/// Token counts of an outcome.
pub fn usage(o: &GenerationOutcome) -> Usage {
    Usage::new(
        o.stats.prompt_tokens as u64,
        o.stats.generated_tokens as u64,
    )
    .with_cached(o.stats.prompt_reused as u64)
}

/// The non-streamed response body.
pub fn completion(id: String, created: u64, model: &str, o: GenerationOutcome) -> ChatCompletion {
    ChatCompletion {
        id,
        object: "chat.completion".into(),
        created,
        model: model.to_string(),
        usage: Some(usage(&o)),
        choices: vec![Choice {
            index: 0,
            finish_reason: Some(finish_reason(o.finish).to_string()),
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(o.text),
            },
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn defaults() -> Defaults {
        Defaults {
            max_tokens: 64,
            ..Defaults::default()
        }
    }

    fn parse(json: &str) -> Result<Prepared, ApiError> {
        prepare(serde_json::from_str(json).unwrap(), &defaults())
    }

    #[test]
    fn fields_map_onto_the_engine_request() {
        let p = parse(
            r#"{"messages":[{"role":"developer","content":"be brief"},
                {"role":"user","content":"hi"}],
                "max_completion_tokens":5,"max_tokens":9,"temperature":0,
                "seed":-1,"stop":"\n","stream":true,
                "stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert_eq!(p.request.max_tokens, 5);
        assert_eq!(p.request.messages[0].role, Role::System);
        assert_eq!(p.request.sampling.temperature, 0.0);
        assert_eq!(p.request.sampling.seed, Some(u32::MAX));
        assert_eq!(p.request.stop, vec!["\n".to_string()]);
        assert!(p.stream && p.include_usage);
    }

    #[test]
    fn http_image_urls_are_refused() {
        let e = parse(
            r#"{"messages":[{"role":"user","content":[
                {"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "remote_url_refused");
        assert!(e.message.contains("https"), "{}", e.message);
    }

    #[test]
    fn bad_roles_and_n_are_400() {
        assert_eq!(
            parse(r#"{"messages":[{"role":"robot","content":"x"}]}"#)
                .unwrap_err()
                .code,
            "invalid_role"
        );
        assert_eq!(
            parse(r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#)
                .unwrap_err()
                .code,
            "unsupported_parameter"
        );
    }

    #[test]
    fn media_after_text_keep_their_place() {
        let png = {
            let img = image::DynamicImage::new_rgb8(2, 2);
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png).unwrap();
            base64::engine::general_purpose::STANDARD.encode(out.into_inner())
        };
        let marker = crate::engine::media::marker();
        let json = format!(
            r#"{{"messages":[{{"role":"user","content":[
                {{"type":"image_url","image_url":{{"url":"data:image/png;base64,{png}"}}}},
                {{"type":"text","text":"compare"}},
                {{"type":"image_url","image_url":{{"url":"data:image/png;base64,{png}"}}}}]}}]}}"#
        );
        let p = parse(&json).unwrap();
        let m = &p.request.messages[0];
        assert_eq!(m.media.len(), 2);
        assert_eq!(m.content, format!("{marker}compare{marker}"));

        let leading = format!(
            r#"{{"messages":[{{"role":"user","content":[
                {{"type":"image_url","image_url":{{"url":"data:image/png;base64,{png}"}}}},
                {{"type":"text","text":"what is it"}}]}}]}}"#
        );
        let p = parse(&leading).unwrap();
        assert_eq!(p.request.messages[0].content, "what is it");
    }

    #[test]
    fn oversized_requests_are_refused_by_their_shape() {
        let many: Vec<Value> = (0..DEFAULT_MAX_MESSAGES + 1)
            .map(|_| serde_json::json!({"role": "user", "content": "x"}))
            .collect();
        let e = prepare(
            serde_json::from_value(serde_json::json!({ "messages": many })).unwrap(),
            &defaults(),
        )
        .unwrap_err();
        assert_eq!(e.code, "too_many_messages");
        let part = serde_json::json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}});
        let parts: Vec<Value> = (0..17).map(|_| part.clone()).collect();
        let e = prepare(
            serde_json::from_value(
                serde_json::json!({"messages": [{"role": "user", "content": parts}]}),
            )
            .unwrap(),
            &defaults(),
        )
        .unwrap_err();
        assert_eq!(e.code, "too_many_media");
        let long = "x".repeat(MAX_STOP_BYTES + 1);
        let e = parse(&format!(
            r#"{{"messages":[{{"role":"user","content":"x"}}],"stop":"{long}"}}"#
        ))
        .unwrap_err();
        assert_eq!(e.code, "invalid_stop");
    }

    #[test]
    fn bad_base64_and_unknown_audio_formats_are_400() {
        let e = parse(
            r#"{"messages":[{"role":"user","content":[
                {"type":"image_url","image_url":{"url":"data:image/png;base64,@@@"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_base64");
        let e = parse(
            r#"{"messages":[{"role":"user","content":[
                {"type":"input_audio","input_audio":{"data":"AAAA","format":"aiff"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_audio_format");
    }
}
