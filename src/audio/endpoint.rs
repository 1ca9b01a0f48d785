//! Turn-taking from speech probabilities: when a person started talking
//! and when they are done. Pure state over 32 ms frames, no threads.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::vad::{FRAME, RATE};

/// How a spoken turn is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// A frame at or above this probability is speech.
    pub start_threshold: f32,
    /// Speech goes on while frames stay above this (hysteresis).
    pub end_threshold: f32,
    /// Speech frames in a row before speech counts as started (1 = 32 ms):
    /// an interruption must be heard at once; a click or cough may stop
    /// the voice but is too short (`min_speech_ms`) to become a question.
    pub start_frames: u32,
    /// While the reply plays, what is left of its echo after cancellation
    /// can look like speech for a moment (when a new sentence starts and
    /// the canceller re-finds the delay): speech then needs this many
    /// frames in a row at `playing_threshold` or more.
    pub playing_start_frames: u32,
    pub playing_threshold: f32,
    /// A frame quieter than this RMS is never speech, whatever the model
    /// says (its probability decays slowly after a word, over silence).
    pub min_rms: f32,
    /// Silence that ends the turn.
    pub end_silence_ms: u32,
    /// A shorter utterance (a cough, "hm") is dropped, not answered.
    pub min_speech_ms: u32,
    /// Audio kept from before the onset, so the first syllable survives.
    pub pre_roll_ms: u32,
    /// The turn ends here even without a pause.
    pub max_seconds: f64,
}

impl Default for EndpointSettings {
    fn default() -> Self {
        Self {
            start_threshold: 0.5,
            end_threshold: 0.35,
            start_frames: 1,
            playing_start_frames: 2,
            playing_threshold: 0.7,
            min_rms: 0.002,
            end_silence_ms: 700,
            min_speech_ms: 250,
            pre_roll_ms: 300,
            max_seconds: 30.0,
        }
    }
}

/// What one frame changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// Nothing new.
    Quiet,
    /// Speech started (confirmed by `start_frames` frames).
    Started,
    /// The turn ended: the utterance at 16 kHz, pre-roll included and the
    /// trailing silence mostly cut; `trailing_ms` of silence was waited for.
    Ended { samples: Vec<f32>, trailing_ms: u32 },
    /// Speech started but was too short to be a question.
    TooShort,
}

/// The turn-taking state of one stream.
#[derive(Debug, Clone)]
pub struct Endpointer {
    settings: EndpointSettings,
    pre_roll: VecDeque<f32>,
    /// Frames above the start threshold in a row, before speech started.
    onset: Vec<f32>,
    onset_frames: u32,
    speech: Option<Vec<f32>>,
    voiced_frames: u32,
    silent_frames: u32,
}

const FRAME_MS: u32 = (FRAME as u32 * 1000) / RATE;

impl Endpointer {
    pub fn new(settings: EndpointSettings) -> Self {
        Self {
            settings,
            pre_roll: VecDeque::new(),
            onset: Vec::new(),
            onset_frames: 0,
            speech: None,
            voiced_frames: 0,
            silent_frames: 0,
        }
    }

    /// Whether a person is talking now.
    pub fn in_speech(&self) -> bool {
        self.speech.is_some()
    }

    /// Forget any speech in progress (e.g. when the reply starts playing).
    pub fn reset(&mut self) {
        *self = Self::new(self.settings);
    }

    /// Feed one frame and its speech probability.
    pub fn push(&mut self, frame: &[f32], probability: f32) -> Endpoint {
        self.push_while(frame, probability, false)
    }

    /// [`Endpointer::push`] knowing whether the reply is playing (stricter
    /// onset, see [`EndpointSettings::playing_start_frames`]).
    pub fn push_while(&mut self, frame: &[f32], probability: f32, playing: bool) -> Endpoint {
        let s = self.settings;
        let (start_threshold, start_frames) = if playing {
            (
                s.playing_threshold.max(s.start_threshold),
                s.playing_start_frames.max(s.start_frames),
            )
        } else {
            (s.start_threshold, s.start_frames)
        };
        let probability = if super::trim::Level::of(frame).rms < s.min_rms {
            0.0
        } else {
            probability
        };
        let Some(speech) = self.speech.as_mut() else {
            if probability >= start_threshold {
                self.onset.extend_from_slice(frame);
                self.onset_frames += 1;
                if self.onset_frames >= start_frames.max(1) {
                    let mut speech: Vec<f32> = self.pre_roll.drain(..).collect();
                    speech.append(&mut self.onset);
                    self.voiced_frames = self.onset_frames;
                    self.onset_frames = 0;
                    self.silent_frames = 0;
                    self.speech = Some(speech);
                    return Endpoint::Started;
                }
                return Endpoint::Quiet;
            }
            // A false start goes back into the pre-roll.
            let onset = std::mem::take(&mut self.onset);
            self.onset_frames = 0;
            self.pre_roll.extend(onset);
            self.pre_roll.extend(frame.iter().copied());
            let keep = (RATE * s.pre_roll_ms / 1000) as usize;
            let excess = self.pre_roll.len().saturating_sub(keep);
            self.pre_roll.drain(..excess);
            return Endpoint::Quiet;
        };
        speech.extend_from_slice(frame);
        if probability >= s.end_threshold {
            self.voiced_frames += 1;
            self.silent_frames = 0;
        } else {
            self.silent_frames += 1;
        }
        let long = speech.len() as f64 >= s.max_seconds * f64::from(RATE);
        if self.silent_frames * FRAME_MS < s.end_silence_ms && !long {
            return Endpoint::Quiet;
        }
        let trailing_ms = self.silent_frames * FRAME_MS;
        let voiced_ms = self.voiced_frames * FRAME_MS;
        let mut samples = self.speech.take().unwrap_or_default();
        // Keep 200 ms of the pause after the last word.
        let cut = (self.silent_frames as usize * FRAME).saturating_sub(RATE as usize / 5);
        samples.truncate(samples.len().saturating_sub(cut));
        self.reset();
        if voiced_ms < s.min_speech_ms {
            return Endpoint::TooShort;
        }
        Endpoint::Ended {
            samples,
            trailing_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(e: &mut Endpointer, probs: &[f32]) -> Vec<Endpoint> {
        probs
            .iter()
            .map(|&p| e.push(&[p; FRAME], p))
            .filter(|x| *x != Endpoint::Quiet)
            .collect()
    }

    #[test]
    fn a_turn_starts_at_the_first_speech_frame_and_ends_after_the_pause() {
        let mut e = Endpointer::new(EndpointSettings::default());
        let mut probs = vec![0.0; 20];
        probs.extend([0.9; 30]);
        probs.extend([0.1; 30]);
        let events = run(&mut e, &probs);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], Endpoint::Started);
        let Endpoint::Ended {
            samples,
            trailing_ms,
        } = &events[1]
        else {
            panic!("{events:?}")
        };
        assert!(*trailing_ms >= 700);
        // Pre-roll (300 ms ≈ 9 frames of silence) + 30 speech frames + ~200 ms.
        let speech = samples.iter().filter(|&&s| s > 0.5).count();
        assert_eq!(speech, 30 * FRAME);
        assert!(
            samples.len() < 30 * FRAME + 9 * FRAME + 8 * FRAME,
            "{}",
            samples.len()
        );
        assert!(!e.in_speech());
    }

    #[test]
    fn a_click_and_a_cough_are_not_questions() {
        let mut e = Endpointer::new(EndpointSettings::default());
        // One loud frame: started (the voice stops), but no question.
        assert_eq!(
            run(
                &mut e,
                &[0.0, 0.95, 0.0]
                    .iter()
                    .chain(&[0.0; 30])
                    .copied()
                    .collect::<Vec<_>>()
            ),
            vec![Endpoint::Started, Endpoint::TooShort]
        );
        // Three frames (96 ms): started, then dropped as too short.
        let mut probs = vec![0.9; 3];
        probs.extend([0.0; 30]);
        assert_eq!(
            run(&mut e, &probs),
            vec![Endpoint::Started, Endpoint::TooShort]
        );
    }

    #[test]
    fn while_the_reply_plays_an_onset_needs_two_sure_frames() {
        let mut e = Endpointer::new(EndpointSettings::default());
        let events: Vec<Endpoint> = [0.9, 0.6, 0.0, 0.9, 0.0, 0.6, 0.6]
            .iter()
            .map(|&p| e.push_while(&[p; FRAME], p, true))
            .collect();
        assert!(
            events.iter().all(|x| *x == Endpoint::Quiet),
            "{} events",
            events.len()
        );
        let events: Vec<Endpoint> = [0.75, 0.9]
            .iter()
            .map(|&p| e.push_while(&[p; FRAME], p, true))
            .collect();
        assert_eq!(events[1], Endpoint::Started);
    }

    #[test]
    fn quiet_frames_are_not_speech_whatever_their_probability() {
        let mut e = Endpointer::new(EndpointSettings::default());
        let quiet: Vec<Endpoint> = (0..10)
            .map(|_| e.push(&[0.0005; FRAME], 0.99))
            .filter(|x| *x != Endpoint::Quiet)
            .collect();
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    #[test]
    fn a_short_dip_inside_speech_does_not_end_it_and_max_length_does() {
        let s = EndpointSettings {
            max_seconds: 2.0,
            ..EndpointSettings::default()
        };
        let mut e = Endpointer::new(s);
        let mut probs = vec![0.9; 20];
        probs.extend([0.2; 10]); // 320 ms dip
        probs.extend([0.9; 10]);
        let events = run(&mut e, &probs);
        assert_eq!(events, vec![Endpoint::Started]);
        let events = run(&mut e, &[0.9; 40]);
        let Some(Endpoint::Ended { samples, .. }) = events.first() else {
            panic!("no end at the maximum length ({} events)", events.len());
        };
        assert!(
            samples.len() <= 2 * RATE as usize + FRAME,
            "{}",
            samples.len()
        );
    }
}
