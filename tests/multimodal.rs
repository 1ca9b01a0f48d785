//! Images and audio through llama.cpp's real mtmd path, on a tiny
//! random-weight omni model (answers are noise; counts, reuse and errors
//! are what is checked).

mod common;

use std::path::Path;

use common::{asset, greedy, omni_fixture, request};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{EngineConfig, EngineError, EngineHandle, SamplingParams};
use omnidesk::media::{self, Media, MediaError};

async fn omni() -> EngineHandle {
    omni_with_encoder_cache(omnidesk::engine::ENCODER_CACHE_BYTES).await
}

/// The omni fixture with `bytes` of encoder-output cache (0: off, so
/// llama.cpp's own `eval_chunks` encodes and decodes every time).
async fn omni_with_encoder_cache(bytes: usize) -> EngineHandle {
    let (model, mmproj) = omni_fixture();
    EngineHandle::start(EngineConfig {
        n_ctx: 4096,
        n_threads: Some(2),
        mmproj_path: Some(mmproj),
        encoder_cache_bytes: bytes,
        ..EngineConfig::new(model)
    })
    .await
    .expect("the omni fixture loads")
}

fn image(name: &str) -> Media {
    Media::Image(media::image::load(&asset(name), &Default::default()).unwrap())
}

fn audio(name: &str) -> Media {
    Media::Audio(media::audio::load(&asset(name), 16_000, &Default::default()).unwrap())
}

fn ask_with(media: Vec<Media>, text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::with_media(Role::User, text, media)]
}

#[tokio::test]
async fn capabilities_come_from_the_projector() {
    let e = omni().await;
    let caps = e.info().capabilities;
    assert!(caps.vision && caps.audio);
    assert_eq!(caps.audio_sample_rate, Some(16_000));
    assert!(e.info().mmproj.is_some());
}

#[tokio::test]
async fn image_token_counts_follow_llama_cpp_rules() {
    let e = omni().await;
    let small = e
        .complete(request(
            ask_with(vec![image("cat-64x48.png")], "What is this?"),
            greedy(),
            2,
        ))
        .await
        .unwrap();
    assert_eq!(small.stats.images_encoded, 1);
    assert_eq!(
        small.stats.image_tokens, 12,
        "64×48 is resized to 112×84: 4×3 merged patches"
    );
    let big = e
        .complete(request(
            ask_with(vec![image("photo-448.jpg")], "And this?"),
            greedy(),
            2,
        ))
        .await
        .unwrap();
    assert_eq!(big.stats.image_tokens, 256, "one token per 28×28 pixels");
    assert!(big.stats.media_encode_ms > 0.0);
}

#[tokio::test]
async fn an_audio_clip_takes_one_30_second_window() {
    let e = omni().await;
    for clip in ["hello.wav", "hello-44k-stereo.flac"] {
        let out = e
            .complete(request(
                ask_with(vec![audio(clip)], "Transcribe."),
                greedy(),
                2,
            ))
            .await
            .unwrap();
        assert_eq!(out.stats.audio_tokens, 750, "{clip}");
        assert!(
            (out.stats.audio_seconds_encoded - 1.66).abs() < 0.1,
            "{clip}"
        );
    }
}

#[tokio::test]
async fn several_images_and_a_clip_in_one_question() {
    let e = omni().await;
    let out = e
        .complete(request(
            ask_with(
                vec![
                    image("cat-64x48.png"),
                    image("photo-448.jpg"),
                    audio("hello.wav"),
                ],
                "Compare the pictures and answer the question.",
            ),
            greedy(),
            4,
        ))
        .await
        .unwrap();
    assert_eq!(out.stats.images_encoded, 2);
    assert_eq!(out.stats.image_tokens, 12 + 256);
    assert_eq!(out.stats.audio_tokens, 750);
    assert!(out.stats.prompt_tokens > 12 + 256 + 750);
}

#[tokio::test]
async fn the_same_inputs_and_seed_give_the_same_answer() {
    let seeded = SamplingParams {
        temperature: 1.0,
        seed: Some(11),
        ..Default::default()
    };
    let q = || {
        ask_with(
            vec![image("cat-64x48.png"), audio("hello.wav")],
            "Describe.",
        )
    };
    let a = omni()
        .await
        .complete(request(q(), seeded.clone(), 12))
        .await
        .unwrap();
    let b = omni()
        .await
        .complete(request(q(), seeded, 12))
        .await
        .unwrap();
    assert_eq!(a.stats.generated_tokens, 12);
    assert_eq!(a.text, b.text);
}

#[tokio::test]
async fn a_follow_up_does_not_re_encode_the_image_in_context() {
    let e = omni().await;
    let mut history = ask_with(vec![image("photo-448.jpg")], "What is in the picture?");
    let first = e
        .complete(request(history.clone(), greedy(), 6))
        .await
        .unwrap();
    assert_eq!(first.stats.images_encoded, 1);
    history.push(ChatMessage::new(Role::Assistant, first.text));
    history.push(ChatMessage::new(Role::User, "What colour is it?"));
    let second = e.complete(request(history, greedy(), 6)).await.unwrap();
    assert_eq!(second.stats.media_reused, 1);
    assert_eq!(second.stats.images_encoded, 0);
    // The image's 256 tokens are not evaluated again (only the new turn,
    // plus the re-tokenised noisy answer, is).
    assert!(
        second.stats.prompt_evaluated + 256 < second.stats.prompt_tokens,
        "evaluated {} of {}",
        second.stats.prompt_evaluated,
        second.stats.prompt_tokens
    );
    assert!(second.stats.prompt_reused > 256);
}

/// The same picture and clip, first in one conversation, then in another
/// whose first message differs: the KV cache cannot cover them the second
/// time, so they are decoded again from the encoder-output cache.
fn first_conversation(media: Vec<Media>) -> Vec<ChatMessage> {
    ask_with(media, "What is in the picture and the clip?")
}

fn edited_conversation(media: Vec<Media>) -> Vec<ChatMessage> {
    vec![
        ChatMessage::new(Role::System, "Answer in one word."),
        ChatMessage::with_media(Role::User, "What is in the picture and the clip?", media),
    ]
}

/// `photo-448.jpg` with every byte inverted: the same size and token
/// count, so only the embedding values differ.
fn inverted_photo() -> Media {
    let Media::Image(photo) = image("photo-448.jpg") else {
        unreachable!()
    };
    let rgb = photo.rgb.iter().map(|b| 255 - b).collect();
    Media::Image(media::Image::from_rgb(photo.width, photo.height, rgb).unwrap())
}

#[tokio::test]
async fn a_rebuilt_context_decodes_cached_encoder_output_exactly_like_a_fresh_encode() {
    let media = || vec![image("photo-448.jpg"), audio("hello.wav")];
    // Two engines get the same two requests; only one keeps encoder output.
    let fresh = omni_with_encoder_cache(0).await;
    let cached = omni().await;
    let mut firsts = Vec::new();
    let mut answers = Vec::new();
    for e in [&fresh, &cached] {
        let first = e
            .complete(request(first_conversation(media()), greedy(), 8))
            .await
            .unwrap();
        assert_eq!(first.stats.encoder_cache_hits, 0);
        assert_eq!(first.stats.encoder_cache_misses, 2);
        assert!(first.stats.encode_ms_per_image > 0.0);
        assert!(first.stats.encode_ms_per_audio_second > 0.0);
        firsts.push(first.text);
        let second = e
            .complete(request(edited_conversation(media()), greedy(), 16))
            .await
            .unwrap();
        assert_eq!(
            second.stats.media_reused, 0,
            "the KV prefix ends before them"
        );
        assert_eq!(second.stats.image_tokens, 256);
        assert_eq!(second.stats.audio_tokens, 750);
        assert_eq!(second.stats.generated_tokens, 16);
        answers.push(second);
    }
    // Encoding chunk by chunk (to keep the output) decodes like
    // llama.cpp's own eval_chunks.
    assert_eq!(firsts[0], firsts[1]);
    let (fresh_answer, cached_answer) = (&answers[0], &answers[1]);
    assert_eq!(fresh_answer.stats.images_encoded, 1);
    assert_eq!(fresh_answer.stats.encoder_cache_hits, 0);
    assert_eq!(cached_answer.stats.encoder_cache_hits, 2);
    assert_eq!(cached_answer.stats.encoder_cache_misses, 0);
    assert_eq!(cached_answer.stats.images_encoded, 0);
    assert_eq!(cached_answer.stats.audio_seconds_encoded, 0.0);
    assert_eq!(cached_answer.stats.encode_ms_per_image, 0.0);
    assert_eq!(
        cached_answer.text, fresh_answer.text,
        "cached embeddings must decode to the same answer as a fresh encode"
    );

    // The comparison can fail: other pixels with the same token count (so
    // only the embedding values differ) change the answer.
    let other = fresh
        .complete(request(
            edited_conversation(vec![inverted_photo(), audio("hello.wav")]),
            greedy(),
            16,
        ))
        .await
        .unwrap();
    assert_eq!(other.stats.image_tokens, 256);
    assert_ne!(other.text, fresh_answer.text);
}

/// `hello.wav` repeated to 40 s: llama.cpp splits it into two 30 s
/// encoder chunks, each cached on its own.
fn forty_second_clip() -> Media {
    let Media::Audio(hello) = audio("hello.wav") else {
        unreachable!()
    };
    let samples: Vec<f32> = hello
        .samples
        .iter()
        .copied()
        .cycle()
        .take(40 * 16_000)
        .collect();
    Media::Audio(media::Audio::from_samples(16_000, samples).unwrap())
}

#[tokio::test]
async fn every_chunk_of_a_long_clip_comes_from_the_cache_after_a_rebuild() {
    let e = omni().await;
    let first = e
        .complete(request(
            first_conversation(vec![forty_second_clip()]),
            greedy(),
            2,
        ))
        .await
        .unwrap();
    assert_eq!(first.stats.encoder_cache_misses, 2, "two 30 s windows");
    assert_eq!(first.stats.audio_tokens, 1500);
    assert!((first.stats.audio_seconds_encoded - 40.0).abs() < 1e-6);
    let second = e
        .complete(request(
            edited_conversation(vec![forty_second_clip()]),
            greedy(),
            2,
        ))
        .await
        .unwrap();
    assert_eq!(second.stats.media_reused, 0);
    assert_eq!(second.stats.encoder_cache_hits, 2);
    assert_eq!(second.stats.encoder_cache_misses, 0);
    assert_eq!(second.stats.audio_tokens, 1500);
    assert_eq!(second.stats.audio_seconds_encoded, 0.0);
}

#[tokio::test]
async fn encoder_output_over_the_cache_budget_is_not_kept() {
    let e = omni_with_encoder_cache(1).await;
    for conversation in [first_conversation, edited_conversation] {
        let out = e
            .complete(request(
                conversation(vec![image("cat-64x48.png")]),
                greedy(),
                2,
            ))
            .await
            .unwrap();
        assert_eq!(out.stats.encoder_cache_hits, 0);
        assert_eq!(out.stats.encoder_cache_misses, 1);
        assert_eq!(out.stats.images_encoded, 1);
    }
}

#[tokio::test]
async fn a_text_only_model_refuses_an_image_before_any_work() {
    let e = common::engine(512).await;
    let err = e
        .complete(request(
            ask_with(vec![image("cat-64x48.png")], "What is this?"),
            greedy(),
            4,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::UnsupportedMedia { kind: "image", .. }),
        "{err}"
    );
    let err = e
        .complete(request(
            ask_with(vec![audio("hello.wav")], "Listen."),
            greedy(),
            4,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::UnsupportedMedia { kind: "audio", .. }),
        "{err}"
    );
    e.complete(request(vec![common::user("Hi")], greedy(), 2))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_projector_for_another_model_is_a_typed_error() {
    let (_, mmproj) = omni_fixture();
    let err = EngineHandle::start(EngineConfig {
        mmproj_path: Some(mmproj),
        ..common::config(512)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, EngineError::ProjectorFailed { .. }),
        "{err:?}"
    );

    let (model, _) = omni_fixture();
    let err = EngineHandle::start(EngineConfig {
        mmproj_path: Some(common::test_model()),
        ..EngineConfig::new(model)
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not a multimodal projector"),
        "{err}"
    );
}

#[tokio::test]
async fn audio_at_the_wrong_rate_is_refused() {
    let e = omni().await;
    let clip =
        Media::Audio(media::audio::load(&asset("hello.wav"), 8_000, &Default::default()).unwrap());
    let err = e
        .complete(request(ask_with(vec![clip], "Listen."), greedy(), 2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("16000 Hz"), "{err}");
}

#[test]
fn every_audio_format_decodes_to_the_same_clip_length() {
    for clip in [
        "hello.wav",
        "hello-44k-stereo.flac",
        "hello.mp3",
        "hello.ogg",
    ] {
        let a = media::audio::load(&asset(clip), 16_000, &Default::default()).unwrap();
        assert_eq!(a.sample_rate, 16_000);
        assert!(
            (a.seconds() - 1.66).abs() < 0.12,
            "{clip}: {} s",
            a.seconds()
        );
    }
}

#[test]
fn exif_orientation_is_applied() {
    let raw = image::image_dimensions(asset("exif-rotated.jpg")).unwrap();
    let img = media::image::load(&asset("exif-rotated.jpg"), &Default::default()).unwrap();
    assert_ne!(raw.0, raw.1);
    assert_eq!(
        (img.width, img.height),
        (raw.1, raw.0),
        "orientation 6 turns the picture"
    );
}

/// A PNG header claiming 100 000 × 100 000 pixels (a decompression bomb)
/// is refused from its header, without allocating the image.
#[test]
fn a_png_claiming_ten_gigapixels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.png");
    std::fs::write(&path, png_header(100_000, 100_000)).unwrap();
    let err = media::image::load(&path, &Default::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::ImageTooLarge {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err}"
    );
}

fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // A first data chunk, so the decoder gets past the header.
    let idat = b"IDAT\x78\x9c\x01\x00\x00\xff\xff".to_vec();
    out.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn bad_attachments_fail_cleanly_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = omni_fixture();
    let notes = dir.path().join("notes.png");
    std::fs::write(&notes, "not a picture").unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    for (flag, file) in [("--image", &notes), ("--audio", &empty)] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnidesk"))
            .env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", "/dev/null")
            .args(["ask", "--json", "-t", "2", "--model"])
            .arg(&model)
            .arg(flag)
            .arg(file)
            .arg("what is it?")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["error"]["code"], "INVALID_MEDIA", "{flag}: {body}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn the_cli_finds_the_projector_next_to_the_model_and_stores_the_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = omni_fixture();
    let no_saved_cache = dir.path().join("no-kv.toml");
    std::fs::write(&no_saved_cache, "[engine]\nkv_cache_mib = 0\n").unwrap();
    let run_with = |config: &Path, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnidesk"))
            .env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", config)
            .env("OMNIDESK_MODEL", &model)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let run = |args: &[&str]| run_with(Path::new("/dev/null"), args);
    let cat = asset("cat-64x48.png");
    let first = run(&[
        "ask",
        "--json",
        "-t",
        "2",
        "--temp",
        "0",
        "-n",
        "3",
        "--image",
        cat.to_str().unwrap(),
        "What is it?",
    ]);
    assert_eq!(first["stats"]["image_tokens"], 12);
    assert_eq!(first["stats"]["encoder_cache_misses"], 1);
    assert!(first["stats"]["encode_ms_per_image"].as_f64().unwrap() > 0.0);
    let id = first["conversation_id"].as_i64().unwrap().to_string();
    let shown = run(&["history", "--json", &id]);
    let att = &shown["messages"][0]["attachments"][0];
    assert_eq!(att["kind"], "image");
    assert_eq!(att["path"], cat.to_str().unwrap());
    // Continuing in a new process: the picture's cells come back with the
    // conversation's saved KV cache, not from the encoder.
    let again = [
        "ask",
        "--json",
        "-t",
        "2",
        "--temp",
        "0",
        "-n",
        "3",
        "--conversation",
        &id,
    ];
    let next = run(&[&again[..], &["Again?"]].concat());
    assert_eq!(next["stats"]["images_encoded"], 0, "{next}");
    assert_eq!(next["stats"]["media_reused"], 1, "{next}");
    assert!(next["stats"]["prompt_restored"].as_u64().unwrap() >= 12);
    // Without the saved cache it re-reads the picture from its path.
    let cold = run_with(&no_saved_cache, &[&again[..], &["And again?"]].concat());
    assert_eq!(cold["stats"]["images_encoded"], 1, "{cold}");
}

/// The real thing: set OMNIDESK_REAL_OMNI_MODEL and OMNIDESK_REAL_OMNI_MMPROJ
/// to Qwen2.5-Omni-7B Q4_K_M and its mmproj, then
/// `cargo test --test multimodal -- --ignored`.
#[tokio::test]
#[ignore = "needs the real Qwen2.5-Omni-7B weights (OMNIDESK_REAL_OMNI_MODEL, OMNIDESK_REAL_OMNI_MMPROJ)"]
async fn the_real_7b_answers_about_a_photo_and_a_spoken_question() {
    let model = std::env::var_os("OMNIDESK_REAL_OMNI_MODEL").expect("OMNIDESK_REAL_OMNI_MODEL");
    let mmproj = std::env::var_os("OMNIDESK_REAL_OMNI_MMPROJ").expect("OMNIDESK_REAL_OMNI_MMPROJ");
    let e = EngineHandle::start(EngineConfig {
        mmproj_path: Some(mmproj.into()),
        ..EngineConfig::new(model)
    })
    .await
    .unwrap();
    let out = e
        .complete(request(
            ask_with(
                vec![image("cat-64x48.png"), audio("hello.wav")],
                "Answer the spoken question.",
            ),
            greedy(),
            64,
        ))
        .await
        .unwrap();
    assert!(out.text.to_lowercase().contains("cat"), "{}", out.text);
}

#[tokio::test]
async fn bench_times_image_and_audio_encoding() {
    let e = omni().await;
    let r = e
        .bench(omnidesk::engine::BenchParams {
            n_prompt: 0,
            n_gen: 0,
            repetitions: 2,
            media: vec![
                ("cat".into(), image("cat-64x48.png")),
                ("hello".into(), audio("hello.wav")),
            ],
        })
        .await
        .unwrap();
    assert_eq!(r.media.len(), 2);
    assert_eq!(
        r.media[0].n_cells,
        12 + 2,
        "12 image tokens between two markers"
    );
    assert_eq!(r.media[1].n_cells, 750 + 2);
    assert!(r.media.iter().all(|m| m.encode_ms.mean > 0.0));
}
