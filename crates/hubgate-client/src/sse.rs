//! The framing of Server-Sent Events (WHATWG HTML, "event stream
//! interpretation"), the reading side only. Bytes come in chunks that split
//! lines anywhere, so the parser keeps what it has not understood yet.

/// One dispatched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The `event:` field, if the message had one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if the message had one.
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    pending: Vec<u8>,
    /// A leading byte order mark is dropped, once.
    started: bool,
    event: Option<String>,
    data: String,
    id: Option<String>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Parser {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next complete message in what was fed, if there is one. What
    /// follows an incomplete message waits for more bytes; at the end of the
    /// stream it is dropped, as the standard says.
    pub fn next_message(&mut self) -> Option<Message> {
        while let Some(line) = self.next_line() {
            if let Some(message) = self.field(&line) {
                return Some(message);
            }
        }
        None
    }

    /// A line ends at `\r\n`, `\n` or `\r`.
    fn next_line(&mut self) -> Option<String> {
        if !self.started {
            if self.pending.len() < BOM.len() && BOM.starts_with(&self.pending) {
                return None;
            }
            if self.pending.starts_with(BOM) {
                self.pending.drain(..BOM.len());
            }
            self.started = true;
        }
        let end = self
            .pending
            .iter()
            .position(|b| matches!(b, b'\n' | b'\r'))?;
        let terminator = match (self.pending[end], self.pending.get(end + 1)) {
            (b'\n', _) => 1,
            (_, Some(b'\n')) => 2,
            (_, Some(_)) => 1,
            // A `\r` last: its `\n` may be in the next chunk.
            (_, None) => return None,
        };
        let line = String::from_utf8_lossy(&self.pending[..end]).into_owned();
        self.pending.drain(..end + terminator);
        Some(line)
    }

    fn field(&mut self, line: &str) -> Option<Message> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment: the heartbeat
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "event" => self.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            // `retry:` is ignored: the client keeps its own backoff.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Message> {
        let event = self.event.take();
        let id = self.id.take();
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the `\n` after the last line
        Some(Message { event, data, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<Message> {
        let mut parser = Parser::default();
        let mut messages = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            while let Some(message) = parser.next_message() {
                messages.push(message);
            }
        }
        messages
    }

    fn message(event: Option<&str>, data: &str, id: Option<&str>) -> Message {
        Message {
            event: event.map(Into::into),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn a_message_has_its_id_event_and_data() {
        let messages = parse_chunks(&[b"id: evt_1\nevent: hub.online\ndata: {\"a\":1}\n\n"]);
        assert_eq!(
            messages,
            [message(Some("hub.online"), "{\"a\":1}", Some("evt_1"))]
        );
    }

    #[test]
    fn crlf_lf_and_cr_all_end_lines() {
        let expected = [message(Some("a"), "1", None), message(Some("b"), "2", None)];
        for text in [
            "event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n",
            "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n",
            "event: a\rdata: 1\r\revent: b\rdata: 2\r\r",
        ] {
            // A `\r` last is known to end its line only when a byte follows.
            let text = format!("{text}: next");
            assert_eq!(parse_chunks(&[text.as_bytes()]), expected, "{text:?}");
        }
    }

    #[test]
    fn chunks_may_split_anywhere_even_between_cr_and_lf() {
        let text = b"\xEF\xBB\xBFid: evt_1\r\ndata: {\"x\": \"\xC3\xA9\"}\r\n\r\n: heartbeat\r\n";
        let whole = parse_chunks(&[text]);
        assert_eq!(whole, [message(None, "{\"x\": \"\u{e9}\"}", Some("evt_1"))]);
        for split in 0..text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(parse_chunks(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole, "one byte at a time");
    }

    #[test]
    fn data_lines_join_with_newlines() {
        let messages = parse_chunks(&[b"data: first\ndata:second\ndata\ndata:  indented\n\n"]);
        assert_eq!(
            messages,
            [message(None, "first\nsecond\n\n indented", None)]
        );
    }

    #[test]
    fn comments_retry_unknown_fields_and_empty_messages_dispatch_nothing() {
        let messages = parse_chunks(&[
            b": heartbeat\n\n:\n\nretry: 1000\n\nevent: only-a-type\n\nid: evt_9\n\nfoo: bar\ndata: x\n\n",
        ]);
        assert_eq!(messages, [message(None, "x", None)]);
    }

    #[test]
    fn a_message_is_dispatched_only_at_its_blank_line() {
        let mut parser = Parser::default();
        parser.feed(b"id: evt_1\ndata: {}\n");
        assert_eq!(parser.next_message(), None, "no blank line yet");
        parser.feed(b"\n");
        assert_eq!(
            parser.next_message(),
            Some(message(None, "{}", Some("evt_1")))
        );
    }
}
