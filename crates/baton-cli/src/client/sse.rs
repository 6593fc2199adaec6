//! An incremental Server-Sent Events parser (the WHATWG `text/event-stream` format): bytes in,
//! complete events out. Comments (keep-alives) and `retry:` are dropped.

/// Longest line accepted; a longer one means the peer is not speaking SSE.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event id seen on the stream when this event was dispatched.
    pub id: Option<String>,
    /// `event:` field; `message` when absent.
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug, thiserror::Error)]
#[error("event stream line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

/// Parser state carried across chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk; returns the events it completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut events = Vec::new();
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                        events.push(event);
                    }
                }
                _ if self.line.len() >= MAX_LINE => return Err(LineTooLong),
                _ => self.line.push(byte),
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            let event = if event.is_empty() { "message".to_owned() } else { event };
            return Some(SseEvent { id: self.last_id.clone(), event, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        chunks.iter().flat_map(|chunk| parser.feed(chunk).unwrap()).collect()
    }

    #[test]
    fn events_with_ids_types_and_multiline_data() {
        let events =
            parse_chunks(&[b": keep-alive\n\nid: 1\nevent: a\ndata: {\"x\":\ndata: 1}\n\nid: 2\ndata:plain\n\n"]);
        assert_eq!(
            events,
            vec![
                SseEvent { id: Some("1".into()), event: "a".into(), data: "{\"x\":\n1}".into() },
                SseEvent { id: Some("2".into()), event: "message".into(), data: "plain".into() },
            ]
        );
    }

    #[test]
    fn chunk_boundaries_anywhere_and_every_line_ending() {
        let text = "id: 7\r\nevent: task\r\ndata: é\r\n\r\nid: 8\rdata: b\r\r";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let events = parse_chunks(&[&bytes[..split], &bytes[split..]]);
            assert_eq!(events.len(), 2, "split at {split}");
            assert_eq!(events[0], SseEvent { id: Some("7".into()), event: "task".into(), data: "é".into() });
            assert_eq!(events[1].id.as_deref(), Some("8"));
            assert_eq!(events[1].data, "b");
        }
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert!(parse_chunks(&[b"id: 1\ndata: x\n"]).is_empty());
        assert!(parse_chunks(&[b"event: only-a-type\n\n"]).is_empty());
    }
}
