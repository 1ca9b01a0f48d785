//! Turning a stream of token bytes into text a UI can show at once.
//!
//! A token is not a character: a Chinese character or an emoji is often
//! split over two or three byte-level tokens, and a stop string can straddle
//! tokens. `TextStream` holds back exactly what is not yet safe to show.

/// Incremental UTF-8 decoder plus stop-string detector.
#[derive(Debug)]
pub struct TextStream {
    pending_bytes: Vec<u8>,
    held_text: String,
    stops: Vec<String>,
    stopped: bool,
}

/// What one push produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Text that is safe to show now.
    pub text: String,
    /// A stop string was found; nothing after it will be shown.
    pub stopped: bool,
}

impl TextStream {
    /// `stops` are literal strings that end the answer; empty ones are ignored.
    pub fn new(stops: &[String]) -> Self {
        Self {
            pending_bytes: Vec::new(),
            held_text: String::new(),
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            stopped: false,
        }
    }

    /// Feed the bytes of one token.
    pub fn push(&mut self, bytes: &[u8]) -> Pushed {
        if self.stopped {
            return Pushed {
                text: String::new(),
                stopped: true,
            };
        }
        self.pending_bytes.extend_from_slice(bytes);
        let decoded = take_valid_utf8(&mut self.pending_bytes, false);
        self.held_text.push_str(&decoded);
        self.release()
    }

    /// End of stream: flush what was held back (a dangling partial character
    /// becomes U+FFFD rather than vanishing).
    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        let decoded = take_valid_utf8(&mut self.pending_bytes, true);
        self.held_text.push_str(&decoded);
        std::mem::take(&mut self.held_text)
    }

    fn release(&mut self) -> Pushed {
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held_text.find(s.as_str()))
            .min()
        {
            self.held_text.truncate(at);
            self.stopped = true;
            return Pushed {
                text: std::mem::take(&mut self.held_text),
                stopped: true,
            };
        }
        // Hold back the longest tail that could still grow into a stop string.
        let hold = self
            .stops
            .iter()
            .map(|s| longest_suffix_prefix(&self.held_text, s))
            .max()
            .unwrap_or(0);
        let cut = self.held_text.len() - hold;
        let rest = self.held_text.split_off(cut);
        Pushed {
            text: std::mem::replace(&mut self.held_text, rest),
            stopped: false,
        }
    }
}

/// Length in bytes of the longest suffix of `text` that is a proper prefix
/// of `stop`, cut on character boundaries.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let start = text.len() - n;
            text.is_char_boundary(start) && stop.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

/// Remove and return the longest decodable prefix of `buf`. Invalid bytes
/// become U+FFFD; an incomplete trailing sequence stays unless `flush`.
fn take_valid_utf8(buf: &mut Vec<u8>, flush: bool) -> String {
    let mut out = String::new();
    let mut start = 0;
    loop {
        match std::str::from_utf8(&buf[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = buf.len();
                break;
            }
            Err(e) => {
                let valid = start + e.valid_up_to();
                out.push_str(&String::from_utf8_lossy(&buf[start..valid]));
                match e.error_len() {
                    Some(bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        start = valid + bad;
                    }
                    None if flush => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        start = buf.len();
                        break;
                    }
                    None => {
                        start = valid;
                        break;
                    }
                }
            }
        }
    }
    buf.drain(..start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(stream: &mut TextStream, chunks: &[&[u8]]) -> (String, bool) {
        let mut out = String::new();
        let mut stopped = false;
        for c in chunks {
            let p = stream.push(c);
            out.push_str(&p.text);
            stopped |= p.stopped;
        }
        if !stopped {
            out.push_str(&stream.finish());
        }
        (out, stopped)
    }

    #[test]
    fn chinese_split_across_tokens_is_never_shown_half() {
        let bytes = "你好，世界".as_bytes();
        let mut s = TextStream::new(&[]);
        let mut shown = String::new();
        for b in bytes {
            let p = s.push(std::slice::from_ref(b));
            assert!(!p.text.contains('\u{FFFD}'));
            shown.push_str(&p.text);
        }
        shown.push_str(&s.finish());
        assert_eq!(shown, "你好，世界");
    }

    #[test]
    fn emoji_in_two_pieces() {
        let e = "🙂".as_bytes();
        let mut s = TextStream::new(&[]);
        assert_eq!(s.push(&e[..3]).text, "");
        assert_eq!(s.push(&e[3..]).text, "🙂");
    }

    #[test]
    fn invalid_bytes_become_replacement_not_lost_text() {
        let mut s = TextStream::new(&[]);
        let (out, _) = feed(&mut s, &[b"a\xffb"]);
        assert_eq!(out, "a\u{FFFD}b");
    }

    #[test]
    fn dangling_partial_char_is_flushed_as_replacement() {
        let mut s = TextStream::new(&[]);
        let (out, _) = feed(&mut s, &[b"ok", &"好".as_bytes()[..2]]);
        assert_eq!(out, "ok\u{FFFD}");
    }

    #[test]
    fn stop_string_across_tokens_cuts_output() {
        let mut s = TextStream::new(&["END".to_string()]);
        let (out, stopped) = feed(&mut s, &[b"hello E", b"N", b"D and more"]);
        assert!(stopped);
        assert_eq!(out, "hello ");
    }

    #[test]
    fn near_miss_of_stop_string_is_released() {
        let mut s = TextStream::new(&["END".to_string()]);
        let first = s.push(b"hello EN");
        assert_eq!(first.text, "hello ");
        let second = s.push(b"tire");
        assert_eq!(second.text, "ENtire");
        assert!(!second.stopped);
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut s = TextStream::new(&["B".to_string(), "A".to_string()]);
        let (out, stopped) = feed(&mut s, &[b"xxAyyB"]);
        assert!(stopped);
        assert_eq!(out, "xx");
    }

    #[test]
    fn cjk_stop_string_with_partial_bytes() {
        let stop = "。".to_string();
        let mut s = TextStream::new(std::slice::from_ref(&stop));
        let full = "第一句。第二句".as_bytes();
        let chunks: Vec<&[u8]> = full.chunks(2).collect();
        let (out, stopped) = feed(&mut s, &chunks);
        assert!(stopped);
        assert_eq!(out, "第一句");
    }
}
