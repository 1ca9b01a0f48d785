//! A minimal server-sent-events reader: bytes in, `data:` payloads out.
//! Lines are split on raw bytes, so a UTF-8 character cut between network
//! chunks is reassembled before decoding.

/// Accumulates bytes and yields complete event payloads.
#[derive(Debug, Default)]
pub(crate) struct SseReader {
    buf: Vec<u8>,
    data: Vec<String>,
}

impl SseReader {
    /// Feed bytes; returns the payloads of events completed by them.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(rest) = line.strip_prefix("data:") {
                self.data
                    .push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
            }
            // Comments (":") and other fields (event, id, retry) are ignored.
        }
        out
    }

    /// A final event not followed by a blank line (servers that just close).
    pub(crate) fn finish(&mut self) -> Option<String> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest);
            if let Some(d) = line.trim_end().strip_prefix("data:") {
                self.data.push(d.trim_start().to_string());
            }
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let text = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n".as_bytes();
        for cut in 0..text.len() {
            let mut r = SseReader::default();
            let mut got = r.push(&text[..cut]);
            got.extend(r.push(&text[cut..]));
            assert_eq!(
                got,
                vec!["{\"a\":\"é\"}".to_string(), "[DONE]".into()],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_trailing_event_without_blank_line_is_kept() {
        let mut r = SseReader::default();
        assert!(r.push(b"data: x").is_empty());
        assert_eq!(r.finish(), Some("x".into()));
    }
}
