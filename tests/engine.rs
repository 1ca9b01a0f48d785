//! The engine against the real llama.cpp and a real small model.

mod common;

use common::{engine, greedy, request, user};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{
    EngineConfig, EngineError, EngineHandle, FinishReason, GenerationEvent, SamplingParams,
};

fn seeded(seed: u32) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        seed: Some(seed),
        ..Default::default()
    }
}

#[tokio::test]
async fn same_seed_gives_same_answer_in_fresh_engines() {
    let q = vec![user("Write a short poem about the sea.")];
    let a = engine(1024)
        .await
        .complete(request(q.clone(), seeded(42), 32))
        .await
        .unwrap();
    let b = engine(1024)
        .await
        .complete(request(q.clone(), seeded(42), 32))
        .await
        .unwrap();
    assert!(!a.text.is_empty());
    assert_eq!(a.text, b.text);
    let c = engine(1024)
        .await
        .complete(request(q, seeded(7), 32))
        .await
        .unwrap();
    assert_ne!(
        a.text, c.text,
        "a different seed should change a sampled answer"
    );
}

#[tokio::test]
async fn streamed_pieces_concatenate_to_the_final_text() {
    let e = engine(1024).await;
    let mut stream = e
        .generate(request(vec![user("List three fruits.")], greedy(), 48))
        .unwrap();
    let mut pieces = String::new();
    let mut started = false;
    let outcome = loop {
        match stream.next().await.expect("stream ends with Done") {
            GenerationEvent::Started { prompt_tokens, .. } => {
                assert!(prompt_tokens > 0);
                started = true;
            }
            GenerationEvent::Token(t) => {
                assert!(started, "tokens come after Started");
                pieces.push_str(&t);
            }
            GenerationEvent::Done(o) => break o,
            GenerationEvent::Failed(e) => panic!("{e}"),
        }
    };
    assert!(!outcome.text.is_empty());
    assert_eq!(pieces, outcome.text);
    assert!(outcome.stats.generated_tokens > 0);
    assert!(outcome.stats.time_to_first_token_ms > 0.0);
    assert!(outcome.stats.tokens_per_s > 0.0);
}

#[tokio::test]
async fn cancel_takes_effect_within_one_token() {
    let e = engine(2048).await;
    let mut stream = e
        .generate(request(
            vec![user(
                "Tell me a very long story about a dragon and a knight.",
            )],
            seeded(3),
            1500,
        ))
        .unwrap();
    let mut seen = 0;
    let mut after_cancel = 0;
    let outcome = loop {
        match stream.next().await.unwrap() {
            GenerationEvent::Token(_) => {
                seen += 1;
                if seen == 3 {
                    stream.cancel();
                } else if seen > 3 {
                    after_cancel += 1;
                }
            }
            GenerationEvent::Done(o) => break o,
            GenerationEvent::Failed(e) => panic!("{e}"),
            GenerationEvent::Started { .. } => {}
        }
    };
    assert_eq!(outcome.finish, FinishReason::Cancelled);
    assert!(
        after_cancel <= 1,
        "{after_cancel} tokens arrived after cancel"
    );
    assert!(outcome.stats.generated_tokens < 1500);
}

#[tokio::test]
async fn dropping_the_stream_frees_the_engine() {
    let e = engine(2048).await;
    let stream = e
        .generate(request(
            vec![user("Count from one to five hundred.")],
            greedy(),
            1500,
        ))
        .unwrap();
    drop(stream);
    let next = e
        .complete(request(vec![user("Say yes.")], greedy(), 8))
        .await
        .unwrap();
    assert!(next.stats.generated_tokens > 0);
}

#[tokio::test]
async fn a_follow_up_turn_evaluates_only_the_new_tokens() {
    let e = engine(2048).await;
    let mut history = vec![
        ChatMessage::new(Role::System, "You are a concise assistant."),
        user("What is the capital of France? Explain a little about its history."),
    ];
    let first = e
        .complete(request(history.clone(), greedy(), 64))
        .await
        .unwrap();
    assert_eq!(first.stats.prompt_reused, 0);
    history.push(ChatMessage::new(Role::Assistant, first.text.clone()));
    history.push(user("And of Italy?"));
    let second = e.complete(request(history, greedy(), 32)).await.unwrap();
    let s = &second.stats;
    assert_eq!(s.prompt_evaluated + s.prompt_reused, s.prompt_tokens);
    assert!(
        s.prompt_reused >= first.stats.prompt_tokens,
        "reused {} of a first prompt of {}",
        s.prompt_reused,
        first.stats.prompt_tokens
    );
    assert!(
        s.prompt_evaluated * 3 < s.prompt_tokens,
        "evaluated {} of {}",
        s.prompt_evaluated,
        s.prompt_tokens
    );
}

#[tokio::test]
async fn repeating_a_request_reuses_all_but_one_token() {
    let e = engine(1024).await;
    let q = vec![user("Name a colour.")];
    let a = e.complete(request(q.clone(), greedy(), 8)).await.unwrap();
    let b = e.complete(request(q, greedy(), 8)).await.unwrap();
    assert_eq!(b.stats.prompt_evaluated, 1);
    assert_eq!(
        a.text, b.text,
        "greedy answers match with and without reuse"
    );
}

/// A conversation of `turns` long user messages on `topic`, answered by
/// the engine, ready for a follow-up.
async fn conversation(e: &EngineHandle, topic: &str) -> Vec<ChatMessage> {
    let mut history = vec![ChatMessage::new(
        Role::System,
        "You are a concise assistant.",
    )];
    for part in ["history", "geography", "food"] {
        history.push(user(&format!(
            "Tell me about the {part} of {topic}, in a few sentences, with some detail \
             about the people who live there and what they are known for."
        )));
        let a = e
            .complete(request(history.clone(), greedy(), 24))
            .await
            .unwrap();
        history.push(ChatMessage::new(Role::Assistant, a.text));
    }
    history
}

/// Switching between two conversations re-reads neither: each is kept in
/// its own slot, and the one that shares only the system prompt with the
/// other does not overwrite it.
#[tokio::test]
async fn alternating_two_conversations_evaluates_only_the_new_turns() {
    let e = engine(4096).await;
    let mut a = conversation(&e, "Norway").await;
    let mut b = conversation(&e, "Peru").await;
    for round in 0..2 {
        for (history, q) in [(&mut a, "And the weather?"), (&mut b, "And the music?")] {
            history.push(user(q));
            let out = e
                .complete(request(history.clone(), greedy(), 8))
                .await
                .unwrap();
            let s = &out.stats;
            assert!(
                s.prompt_evaluated < 40 && s.prompt_reused + s.prompt_evaluated == s.prompt_tokens,
                "round {round}, {q:?}: evaluated {} of {} (reused {})",
                s.prompt_evaluated,
                s.prompt_tokens,
                s.prompt_reused
            );
            history.push(ChatMessage::new(Role::Assistant, out.text));
        }
    }
}

/// With one slot the same switch re-reads the other conversation: the
/// counter above measures something.
#[tokio::test]
async fn with_one_slot_a_switch_reads_the_whole_history_again() {
    let e = EngineHandle::start(EngineConfig {
        n_slots: 1,
        ..common::config(4096)
    })
    .await
    .unwrap();
    let mut a = conversation(&e, "Norway").await;
    let _b = conversation(&e, "Peru").await;
    a.push(user("And the weather?"));
    let out = e.complete(request(a, greedy(), 8)).await.unwrap();
    assert!(
        out.stats.prompt_evaluated * 2 > out.stats.prompt_tokens,
        "evaluated {} of {}",
        out.stats.prompt_evaluated,
        out.stats.prompt_tokens
    );
}

/// Greedy answers do not depend on which slot or prefix copy served them.
#[tokio::test]
async fn answers_are_the_same_from_a_fresh_engine_and_a_kept_slot() {
    let e = engine(4096).await;
    let mut a = conversation(&e, "Norway").await;
    let _b = conversation(&e, "Peru").await;
    a.push(user("And the weather?"));
    let kept = e.complete(request(a.clone(), greedy(), 16)).await.unwrap();
    let fresh = engine(4096)
        .await
        .complete(request(a, greedy(), 16))
        .await
        .unwrap();
    assert!(kept.stats.prompt_reused > 0);
    assert_eq!(fresh.stats.prompt_reused, 0);
    assert_eq!(kept.text, fresh.text);
}

/// Identical greedy requests give one text, however many slots there are:
/// a repeat stays in its slot, so its tokens land in the same KV cells
/// (moved to another slot they did not, and llama.cpp's sums changed).
#[tokio::test]
async fn identical_greedy_requests_give_one_text() {
    let e = engine(2048).await;
    let q = vec![user("Write a story about a robot who learns to paint.")];
    let mut texts = Vec::new();
    for _ in 0..6 {
        let out = e.complete(request(q.clone(), greedy(), 128)).await.unwrap();
        texts.push(out.text);
    }
    assert!(texts[0].len() > 100, "{:?}", texts[0]);
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(t, &texts[0], "request {i} differs");
    }
}

/// An engine whose conversations are saved to `dir`.
async fn saving_engine(
    dir: &std::path::Path,
    n_slots: u32,
    template: Option<&str>,
) -> EngineHandle {
    EngineHandle::start(EngineConfig {
        n_slots,
        kv_cache_dir: Some(dir.to_path_buf()),
        kv_cache_bytes: 1 << 30,
        chat_template: template.map(str::to_string),
        ..common::config(4096)
    })
    .await
    .unwrap()
}

/// The prompt came mostly from disk: only the new turn was evaluated.
fn assert_mostly_restored(s: &omnidesk::engine::GenerationStats) {
    assert!(
        s.prompt_restored > 100 && s.prompt_evaluated < 40,
        "restored {} evaluated {} of {}",
        s.prompt_restored,
        s.prompt_evaluated,
        s.prompt_tokens
    );
}

fn saved_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "kv"))
        .collect()
}

/// A conversation saved by one engine is restored by the next one (as
/// after a restart): only the new turn is evaluated, and the greedy answer
/// is the one the conversation's live slot gives. (A cold read of the same
/// history may answer differently: it computes the earlier answers' cells
/// in one batch, where generation computed them a token at a time, and
/// llama.cpp's float sums depend on that.) Another template's engine does
/// not trust the file, and a damaged file is removed, not loaded.
#[tokio::test]
async fn a_conversation_is_restored_from_disk_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = {
        let e = saving_engine(dir.path(), 4, None).await;
        let a = conversation(&e, "Norway").await;
        e.persist().await.unwrap();
        a
    };
    assert_eq!(saved_files(dir.path()).len(), 1);
    a.push(user("And the weather?"));

    let restored = saving_engine(dir.path(), 4, None)
        .await
        .complete(request(a.clone(), greedy(), 16))
        .await
        .unwrap();
    let s = &restored.stats;
    assert_mostly_restored(s);
    assert_eq!(s.prompt_reused + s.prompt_evaluated, s.prompt_tokens);
    assert!(s.restore_ms > 0.0);
    let live = {
        let e = engine(4096).await;
        let mut kept = conversation(&e, "Norway").await;
        assert_eq!(kept, a[..a.len() - 1], "greedy builds the same history");
        kept.push(user("And the weather?"));
        e.complete(request(kept, greedy(), 16)).await.unwrap()
    };
    assert_eq!(live.stats.prompt_restored, 0);
    assert_eq!(
        restored.text, live.text,
        "a restored slot answers as the live one"
    );

    // Written for the model's own template: an engine with another one
    // reads everything again, and leaves the file alone.
    let other = saving_engine(dir.path(), 4, Some("chatml"))
        .await
        .complete(request(a.clone(), greedy(), 4))
        .await
        .unwrap();
    assert_eq!(other.stats.prompt_restored, 0);
    assert_eq!(other.stats.prompt_reused, 0);

    // Truncated: removed when the folder is opened, never loaded.
    for file in saved_files(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    }
    let damaged = saving_engine(dir.path(), 4, None)
        .await
        .complete(request(a, greedy(), 16))
        .await
        .unwrap();
    assert_eq!(damaged.stats.prompt_restored, 0);
    assert_eq!(damaged.stats.prompt_reused, 0);
    assert!(
        saved_files(dir.path()).len() <= 1,
        "the damaged files were removed (the chatml one may have been saved again)"
    );
}

/// With one slot, a switch saves the conversation it replaces, and going
/// back restores it instead of reading it again.
#[tokio::test]
async fn a_conversation_evicted_from_its_slot_is_restored_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let e = saving_engine(dir.path(), 1, None).await;
    let mut a = conversation(&e, "Norway").await;
    let _b = conversation(&e, "Peru").await;
    a.push(user("And the weather?"));
    let out = e.complete(request(a, greedy(), 8)).await.unwrap();
    assert_mostly_restored(&out.stats);
}

/// More conversations than slots: the least recently used gives way, and
/// a small context evicts parked slots instead of failing.
#[tokio::test]
async fn more_conversations_than_slots_or_cells_keep_working() {
    let e = EngineHandle::start(EngineConfig {
        n_slots: 2,
        ..common::config(512)
    })
    .await
    .unwrap();
    let mut all = Vec::new();
    for topic in ["Norway", "Peru", "Japan"] {
        all.push(conversation(&e, topic).await);
    }
    // Japan and Peru are kept; Norway was evicted and is read again.
    for (i, history) in all.iter_mut().enumerate().rev() {
        history.push(user("Thanks!"));
        let out = e
            .complete(request(history.clone(), greedy(), 8))
            .await
            .unwrap();
        assert!(!out.text.is_empty() || out.stats.generated_tokens == 0);
        let s = &out.stats;
        if i == 0 {
            assert!(s.prompt_evaluated * 2 > s.prompt_tokens, "{s:?}");
        }
    }
}

#[tokio::test]
async fn a_conversation_outgrowing_the_context_drops_old_turns_and_keeps_working() {
    let e = engine(256).await;
    let mut history = vec![ChatMessage::new(Role::System, "Answer briefly.")];
    let mut dropped_any = false;
    for i in 0..8 {
        history.push(user(&format!(
            "Turn {i}: here is some filler text to use up the context window quickly, \
             with enough words that a few turns overflow two hundred and fifty-six tokens. \
             What number is this turn?"
        )));
        let out = e
            .complete(request(history.clone(), greedy(), 24))
            .await
            .unwrap();
        assert!(out.stats.prompt_tokens + 24 <= 256 || out.finish == FinishReason::ContextFull);
        dropped_any |= out.stats.dropped_messages > 0;
        history.push(ChatMessage::new(Role::Assistant, out.text));
    }
    assert!(
        dropped_any,
        "eight long turns must overflow a 256-token context"
    );
}

#[tokio::test]
async fn a_single_message_too_long_for_the_context_is_a_typed_error() {
    let e = engine(256).await;
    let long = "word ".repeat(2000);
    let err = e
        .complete(request(vec![user(&long)], greedy(), 16))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::PromptTooLong { .. }), "{err}");
    // The engine is still usable afterwards.
    e.complete(request(vec![user("Hi")], greedy(), 4))
        .await
        .unwrap();
}

#[tokio::test]
async fn chinese_answers_stream_as_whole_characters() {
    let e = engine(1024).await;
    let mut stream = e
        .generate(request(vec![user("请用中文介绍一下北京。")], greedy(), 64))
        .unwrap();
    let mut pieces = Vec::new();
    let outcome = loop {
        match stream.next().await.unwrap() {
            GenerationEvent::Token(t) => pieces.push(t),
            GenerationEvent::Done(o) => break o,
            GenerationEvent::Failed(e) => panic!("{e}"),
            GenerationEvent::Started { .. } => {}
        }
    };
    let joined: String = pieces.concat();
    assert_eq!(joined, outcome.text);
    assert!(
        outcome
            .text
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "expected Chinese text, got {:?}",
        outcome.text
    );
    assert!(
        !joined.contains('\u{FFFD}'),
        "a character was split: {joined:?}"
    );
}

#[tokio::test]
async fn a_stop_string_cuts_the_answer_where_it_appears() {
    let e = engine(1024).await;
    let q = vec![user("Describe a cat in two sentences.")];
    let full = e.complete(request(q.clone(), greedy(), 48)).await.unwrap();
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(
        words.len() >= 4,
        "answer too short to pick a stop word: {:?}",
        full.text
    );
    let stop = words[words.len() / 2].to_string();
    let cut = full.text.find(&stop).unwrap();
    let mut req = request(q, greedy(), 48);
    req.stop = vec![stop];
    let stopped = e.complete(req).await.unwrap();
    assert_eq!(stopped.finish, FinishReason::StopString);
    assert_eq!(stopped.text, full.text[..cut]);
}

#[tokio::test]
async fn max_tokens_bounds_the_answer() {
    let e = engine(1024).await;
    let out = e
        .complete(request(
            vec![user("Write an essay about rivers.")],
            seeded(5),
            5,
        ))
        .await
        .unwrap();
    assert_eq!(out.finish, FinishReason::MaxTokens);
    assert_eq!(out.stats.generated_tokens, 5);
}

#[tokio::test]
async fn invalid_sampling_is_rejected_before_any_work() {
    let e = engine(512).await;
    let bad = SamplingParams {
        temperature: -1.0,
        ..Default::default()
    };
    let err = e
        .complete(request(vec![user("hi")], bad, 4))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidRequest(_)));
}

#[tokio::test]
async fn info_reports_the_real_model() {
    let e = engine(512).await;
    let i = e.info();
    assert_eq!(i.architecture, "gemma3");
    assert_eq!(i.n_ctx, 512);
    assert!(
        i.n_params > 200_000_000 && i.n_params < 400_000_000,
        "{}",
        i.n_params
    );
    // This conversion carries no template: Gemma's own built-in one is used.
    assert!(i.chat_template.starts_with("gemma"), "{}", i.chat_template);
    assert!(i.metadata.iter().any(|(k, _)| k == "general.architecture"));
    assert!(i.backend.devices.iter().any(|d| d.kind == "Cpu"));
}

#[tokio::test]
async fn bench_reports_positive_throughput() {
    let e = engine(1024).await;
    let r = e
        .bench(omnidesk::engine::BenchParams {
            n_prompt: 64,
            n_gen: 8,
            repetitions: 1,
            media: Vec::new(),
        })
        .await
        .unwrap();
    assert!(r.pp_tokens_per_s.mean > 0.0);
    assert!(r.tg_tokens_per_s.mean > 0.0);
    assert!(r.time_to_first_token_ms.mean > 0.0);
    // The engine is usable after a benchmark (the cache was reset).
    let out = e
        .complete(request(vec![user("Hi")], greedy(), 4))
        .await
        .unwrap();
    assert_eq!(out.stats.prompt_reused, 0);
}

/// Every kind of broken file fails with a typed error before llama.cpp
/// sees it; the process survives to try the next one.
#[tokio::test]
async fn bad_model_files_are_rejected_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(common::test_model()).unwrap();
    let mut seed: u64 = 0x1234_5678;
    let random: Vec<u8> = (0..100_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zero-byte.gguf", Vec::new()),
        ("header-only.gguf", real[..16].to_vec()),
        ("cut-in-metadata.gguf", real[..4096].to_vec()),
        ("cut-in-weights.gguf", real[..real.len() / 2].to_vec()),
        ("random.gguf", random),
        (
            "notes.gguf",
            b"These are my notes, not a model.\n".repeat(100),
        ),
        ("future-version.gguf", {
            let mut v = real[..8192].to_vec();
            v[4..8].copy_from_slice(&99u32.to_le_bytes());
            v
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = EngineHandle::start(common::config(256).clone_with(&path))
            .await
            .expect_err(name);
        assert!(
            matches!(err, EngineError::InvalidModel(_)),
            "{name}: expected InvalidModel, got {err:?}"
        );
        assert!(!err.to_string().is_empty());
    }
    let missing = dir.path().join("missing.gguf");
    let err = EngineHandle::start(common::config(256).clone_with(&missing))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidModel(_)), "{err:?}");
}

trait CloneWith {
    fn clone_with(&self, path: &std::path::Path) -> Self;
}

impl CloneWith for omnidesk::engine::EngineConfig {
    fn clone_with(&self, path: &std::path::Path) -> Self {
        Self {
            model_path: path.to_path_buf(),
            ..self.clone()
        }
    }
}

#[tokio::test]
async fn a_grammar_that_throws_fails_its_request_and_the_engine_answers_the_next() {
    use omnidesk::engine::{ConstrainedRequest, Grammar};
    let e = engine(1024).await;
    // Lazy from the first space: the token that carries it (" weather")
    // holds text the grammar forbids, and llama.cpp throws on accepting it.
    let constrained = ConstrainedRequest {
        request: request(
            vec![user("Write one sentence about the weather.")],
            greedy(),
            32,
        ),
        prompt: None,
        grammar: Some(Grammar {
            gbnf: r#"root ::= " " [0-9]"#.into(),
            root: "root".into(),
            triggers: vec![" ".into()],
        }),
    };
    let err = e
        .generate_constrained(constrained)
        .unwrap()
        .finish()
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SAMPLING_FAILED", "{err}");
    let next = e
        .complete(request(vec![user("Say hi.")], greedy(), 8))
        .await
        .unwrap();
    assert!(next.stats.generated_tokens > 0);
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn a_panic_on_the_engine_thread_fails_that_request_and_the_engine_restarts() {
    use omnidesk::engine::EngineStatus;
    let e = engine(1024).await;
    assert_eq!(e.status(), EngineStatus::Ready);
    let crashed = e.debug_panic().unwrap();
    // Queued behind the crash: answered by the reloaded engine.
    let queued = e
        .generate(request(vec![user("Say hi.")], greedy(), 8))
        .unwrap();
    let mut crashed = crashed;
    let err = crashed.finish().await.unwrap_err();
    assert_eq!(err.code(), "ENGINE_CRASHED", "{err}");
    // Set before the failure is sent, cleared only once the model is back.
    assert_eq!(e.status(), EngineStatus::Restarting);
    let mut queued = queued;
    let next = queued.finish().await.unwrap();
    assert!(next.stats.generated_tokens > 0);
    assert_eq!(e.status(), EngineStatus::Ready);
    let again = e
        .complete(request(vec![user("Say hello.")], greedy(), 8))
        .await
        .unwrap();
    assert!(again.stats.generated_tokens > 0);
}

#[tokio::test]
async fn a_typed_media_marker_is_text_and_the_turn_is_answered() {
    let e = engine(1024).await;
    let plain = e
        .complete(request(vec![user("What does the tag mean?")], greedy(), 4))
        .await
        .unwrap();
    let marked = e
        .complete(request(
            vec![user("What does the tag <__media__> mean?")],
            greedy(),
            4,
        ))
        .await
        .unwrap();
    // The marker is a few text tokens more, not an image and not an error.
    assert!(marked.stats.prompt_tokens > plain.stats.prompt_tokens);
    assert_eq!(marked.stats.image_tokens, 0);
}

/// An engine with room for `n_slots` generations at once.
async fn batching_engine(n_slots: u32) -> EngineHandle {
    EngineHandle::start(EngineConfig {
        n_slots,
        ..common::config(4096)
    })
    .await
    .unwrap()
}

/// Questions different enough that their answers differ.
const QUESTIONS: [&str; 8] = [
    "Write a short poem about the sea.",
    "Explain how a bicycle works.",
    "List five fruits and their colours.",
    "What is the capital of Japan? Tell me about it.",
    "Describe a cat to someone who has never seen one.",
    "Give me three tips for learning to cook.",
    "Why is the sky blue?",
    "Tell me a story about a robot who learns to paint.",
];

/// Greedy answers to `questions` asked one at a time, in an engine of
/// `n_slots` slots that is gone before the batched run starts.
async fn lone_answers(n_slots: u32, questions: &[&str], max_tokens: u32) -> Vec<String> {
    let alone = batching_engine(n_slots).await;
    let mut answers = Vec::new();
    for q in questions {
        let out = alone
            .complete(request(vec![user(q)], greedy(), max_tokens))
            .await
            .unwrap();
        answers.push(out.text);
    }
    answers
}

/// Stream `stream` to its end, returning the outcome and when its first
/// token and its end arrived.
async fn timed(
    mut stream: omnidesk::engine::GenerationStream,
    t0: std::time::Instant,
) -> (omnidesk::engine::GenerationOutcome, f64, f64) {
    let mut first = None;
    loop {
        match stream.next().await.expect("the stream ends with Done") {
            GenerationEvent::Token(_) => {
                first.get_or_insert_with(|| t0.elapsed().as_secs_f64());
            }
            GenerationEvent::Done(o) => {
                let end = t0.elapsed().as_secs_f64();
                return (o, first.unwrap_or(end), end);
            }
            GenerationEvent::Failed(e) => panic!("{e}"),
            GenerationEvent::Started { .. } => {}
        }
    }
}

/// Eight greedy streams at once are decoded together (every one has its
/// first token before any ends) and each gets its own question's answer
/// (see `assert_unmixed` for why not always bit-identical).
#[tokio::test]
async fn eight_concurrent_greedy_streams_are_decoded_together_and_unmixed() {
    let expected = lone_answers(9, &QUESTIONS, 48).await;
    let e = batching_engine(9).await;
    let t0 = std::time::Instant::now();
    let streams: Vec<_> = QUESTIONS
        .iter()
        .map(|q| e.generate(request(vec![user(q)], greedy(), 48)).unwrap())
        .collect();
    let results = futures_util::future::join_all(streams.into_iter().map(|s| timed(s, t0))).await;
    let last_first = results.iter().map(|r| r.1).fold(0.0, f64::max);
    let first_end = results.iter().map(|r| r.2).fold(f64::MAX, f64::min);
    assert!(
        last_first < first_end,
        "not decoded together: a stream ended at {first_end:.2} s before another began at {last_first:.2} s"
    );
    for (i, (out, _, _)) in results.iter().enumerate() {
        assert!(out.stats.generated_tokens > 10, "{i}: {:?}", out.text);
    }
    let texts: Vec<String> = results.into_iter().map(|r| r.0.text).collect();
    let identical = common::assert_unmixed(&texts, &expected, 24);
    eprintln!("{identical} of 8 batched answers identical to the lone ones");
}

/// Cancelling one of three streams ends it alone: the others write their
/// whole answers, to their own questions.
#[tokio::test]
async fn cancelling_one_of_three_streams_leaves_the_others_untouched() {
    let expected = lone_answers(4, &QUESTIONS[..3], 40).await;
    let e = batching_engine(4).await;
    let mut streams: Vec<_> = QUESTIONS[..3]
        .iter()
        .map(|q| e.generate(request(vec![user(q)], greedy(), 40)).unwrap())
        .collect();
    let victim = streams.remove(1);
    let cancel = victim.cancel_token();
    let t0 = std::time::Instant::now();
    let cancelled = async {
        let mut victim = victim;
        let mut tokens = 0;
        loop {
            match victim.next().await.unwrap() {
                GenerationEvent::Token(_) => {
                    tokens += 1;
                    if tokens == 3 {
                        cancel.cancel();
                    }
                }
                GenerationEvent::Done(o) => break o,
                GenerationEvent::Failed(e) => panic!("{e}"),
                GenerationEvent::Started { .. } => {}
            }
        }
    };
    let (cancelled, others) = tokio::join!(
        cancelled,
        futures_util::future::join_all(streams.into_iter().map(|s| timed(s, t0)))
    );
    assert_eq!(cancelled.finish, FinishReason::Cancelled);
    assert!(cancelled.stats.generated_tokens < 10);
    for (o, _, _) in &others {
        assert_ne!(o.finish, FinishReason::Cancelled, "{:?}", o.text);
    }
    let texts = [others[0].0.text.clone(), others[1].0.text.clone()];
    common::assert_unmixed(&texts, &[expected[0].clone(), expected[2].clone()], 24);
}

/// While four API clients hold the engine, the window's request starts at
/// once (API clients never take the last slot) and ends first.
#[tokio::test]
async fn the_windows_request_is_served_first_while_four_api_clients_are_busy() {
    use omnidesk::engine::Priority;
    let e = batching_engine(4).await;
    let api = e.with_priority(Priority::Background);
    let t0 = std::time::Instant::now();
    let clients: Vec<_> = QUESTIONS[..4]
        .iter()
        .map(|q| api.generate(request(vec![user(q)], greedy(), 160)).unwrap())
        .collect();
    let clients = tokio::spawn(futures_util::future::join_all(
        clients.into_iter().map(move |s| timed(s, t0)),
    ));
    // Once the API's answers are streaming, the person asks.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let asked = t0.elapsed().as_secs_f64();
    let window = e
        .generate(request(vec![user("Say hello.")], greedy(), 8))
        .unwrap();
    let (window, first, end) = timed(window, t0).await;
    let clients = clients.await.unwrap();
    assert!(window.stats.generated_tokens > 0);
    let api_ends: Vec<f64> = clients.iter().map(|c| c.2).collect();
    assert!(
        api_ends.iter().all(|&t| t > end),
        "the window's answer ended at {end:.2} s, an API answer at {api_ends:?}"
    );
    // It did not wait for an API answer to end: its first token came
    // while all of them were still being written.
    assert!(
        first < api_ends.iter().copied().fold(f64::MAX, f64::min),
        "asked at {asked:.2} s, first token at {first:.2} s, API ends {api_ends:?}"
    );
}
