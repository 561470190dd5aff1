//! MLLP framing (HL7 v2 over TCP): each message is sent as `0x0B payload 0x1C 0x0D`. Pure and
//! incremental: push bytes as they arrive, take frames out; no IO.
//!
//! The decoder keeps one buffer with a read cursor and remembers how far it has looked for the
//! end of the current frame, so each byte is scanned once and copied once into its frame,
//! however the stream is cut into reads.
//!
//! Tolerated: CR, LF, spaces and tabs between frames; `0x1C` not followed by `0x0D` (taken as the
//! end block, the following byte kept). Reported: other bytes outside a frame
//! ([`MllpError::Garbage`], once per run, then the decoder resyncs at the next `0x0B`); a frame
//! longer than the limit ([`MllpError::TooLarge`], discarded up to its end block); a frame cut
//! short by a new start block or by the end of the stream ([`MllpError::Truncated`]).

/// Start block.
pub const START: u8 = 0x0B;
/// First byte of the end block.
pub const END: u8 = 0x1C;
/// Second byte of the end block.
pub const CR: u8 = 0x0D;

/// The frame limit of [`MllpDecoder::default`]: 8 MiB.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MllpError {
    #[error("{skipped} bytes outside an MLLP frame were skipped")]
    Garbage { skipped: usize },
    #[error("an MLLP frame exceeded the limit of {limit} bytes and was discarded")]
    TooLarge { limit: usize },
    #[error("an MLLP frame was cut short after {len} bytes")]
    Truncated { len: usize },
}

/// Wraps a payload in an MLLP frame.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.push(START);
    out.extend_from_slice(payload);
    out.push(END);
    out.push(CR);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// After a start block: the frame's bytes begin at `pos`.
    InFrame,
    /// Dropping a frame that grew too large, up to its end block.
    Discarding,
}

/// An incremental MLLP decoder: [`push`](MllpDecoder::push) bytes, then call
/// [`next_frame`](MllpDecoder::next_frame) until it gives `Ok(None)`; at the end of the stream,
/// [`finish`](MllpDecoder::finish).
#[derive(Debug, Clone)]
pub struct MllpDecoder {
    max_frame: usize,
    buf: Vec<u8>,
    /// Bytes before this are consumed.
    pos: usize,
    /// In a frame: how many of its bytes (from `pos`) hold neither an end nor a start block.
    scanned: usize,
    state: State,
    /// Garbage bytes of the current run, and whether the run was reported.
    garbage: usize,
    garbage_reported: bool,
}

impl Default for MllpDecoder {
    fn default() -> Self {
        MllpDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl MllpDecoder {
    /// A decoder taking frames of at most `max_frame` payload bytes.
    pub fn new(max_frame: usize) -> Self {
        MllpDecoder {
            max_frame,
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            state: State::Idle,
            garbage: 0,
            garbage_reported: false,
        }
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes held (a partial frame), for a caller that wants to watch memory.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos.min(self.buf.len())
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's payload, `Ok(None)` when more bytes are needed, or a problem
    /// (after which calling again goes on with the stream).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, MllpError> {
        loop {
            match self.state {
                State::Idle => {
                    let rest = self.buf.get(self.pos..).unwrap_or(&[]);
                    let mut found_start = None;
                    let mut used = 0usize;
                    for (i, &b) in rest.iter().enumerate() {
                        if b == START {
                            found_start = Some(i);
                            break;
                        }
                        // Blanks between frames are fine; inside a run of garbage they count.
                        if self.garbage > 0 || !matches!(b, b'\r' | b'\n' | b' ' | b'\t') {
                            self.garbage += 1;
                        }
                        used = i + 1;
                    }
                    match found_start {
                        Some(i) => {
                            self.pos += i;
                            if self.garbage > 0 && !self.garbage_reported {
                                let skipped = self.garbage;
                                self.garbage = 0;
                                return Err(MllpError::Garbage { skipped });
                            }
                            self.garbage = 0;
                            self.garbage_reported = false;
                            self.pos += 1;
                            self.scanned = 0;
                            self.state = State::InFrame;
                        }
                        None => {
                            self.pos += used;
                            if self.garbage > 0 && !self.garbage_reported {
                                self.garbage_reported = true;
                                return Err(MllpError::Garbage {
                                    skipped: self.garbage,
                                });
                            }
                            return Ok(None);
                        }
                    }
                }
                State::InFrame => {
                    let from = self.pos + self.scanned;
                    let rest = self.buf.get(from..).unwrap_or(&[]);
                    match rest.iter().position(|b| *b == END || *b == START) {
                        Some(k) => {
                            let at = from + k;
                            let len = at - self.pos;
                            if self.buf.get(at) == Some(&START) {
                                // A new frame begins before this one ended.
                                self.pos = at + 1;
                                self.scanned = 0;
                                return Err(MllpError::Truncated { len });
                            }
                            let frame = if len > self.max_frame {
                                None
                            } else {
                                Some(self.buf.get(self.pos..at).unwrap_or(&[]).to_vec())
                            };
                            self.consume_end(at);
                            self.state = State::Idle;
                            return match frame {
                                Some(f) => Ok(Some(f)),
                                None => Err(MllpError::TooLarge {
                                    limit: self.max_frame,
                                }),
                            };
                        }
                        None => {
                            self.scanned = self.buf.len() - self.pos;
                            if self.scanned > self.max_frame {
                                self.pos = self.buf.len();
                                self.scanned = 0;
                                self.state = State::Discarding;
                                return Err(MllpError::TooLarge {
                                    limit: self.max_frame,
                                });
                            }
                            return Ok(None);
                        }
                    }
                }
                State::Discarding => {
                    let rest = self.buf.get(self.pos..).unwrap_or(&[]);
                    match rest.iter().position(|b| *b == END || *b == START) {
                        Some(k) => {
                            let at = self.pos + k;
                            if self.buf.get(at) == Some(&START) {
                                self.pos = at + 1;
                                self.scanned = 0;
                                self.state = State::InFrame;
                            } else {
                                self.consume_end(at);
                                self.state = State::Idle;
                            }
                        }
                        None => {
                            self.pos = self.buf.len();
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Consumes the end block at `at` and the CR after it, if that has arrived (a CR arriving
    /// later is skipped between frames anyway).
    fn consume_end(&mut self, at: usize) {
        self.pos = at + 1;
        if self.buf.get(self.pos) == Some(&CR) {
            self.pos += 1;
        }
        self.scanned = 0;
    }

    /// The end of the stream: a frame still open is reported as truncated (and so is a run of
    /// garbage not yet reported). The decoder is then empty and ready for a new stream.
    pub fn finish(&mut self) -> Option<MllpError> {
        let result = match self.state {
            State::InFrame => Some(MllpError::Truncated {
                len: self.buf.len().saturating_sub(self.pos),
            }),
            State::Idle if self.garbage > 0 && !self.garbage_reported => Some(MllpError::Garbage {
                skipped: self.garbage,
            }),
            _ => None,
        };
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
        self.state = State::Idle;
        self.garbage = 0;
        self.garbage_reported = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(d: &mut MllpDecoder) -> Vec<Result<Vec<u8>, MllpError>> {
        let mut out = Vec::new();
        loop {
            match d.next_frame() {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => return out,
                Err(e) => out.push(Err(e)),
            }
        }
    }

    #[test]
    fn frames_and_whitespace_between() {
        let mut d = MllpDecoder::default();
        let mut s = frame(b"MSH|one");
        s.extend_from_slice(b"\r\n");
        s.extend(frame(b"MSH|two"));
        s.extend(frame(b""));
        d.push(&s);
        assert_eq!(
            drain(&mut d),
            vec![
                Ok(b"MSH|one".to_vec()),
                Ok(b"MSH|two".to_vec()),
                Ok(Vec::new())
            ]
        );
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn byte_at_a_time() {
        let mut d = MllpDecoder::default();
        let s = [frame(b"abc"), frame(b"de")].concat();
        let mut got = Vec::new();
        for b in s {
            d.push(&[b]);
            got.extend(drain(&mut d));
        }
        assert_eq!(got, vec![Ok(b"abc".to_vec()), Ok(b"de".to_vec())]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn garbage_reported_once_then_resync() {
        let mut d = MllpDecoder::default();
        d.push(b"GET / HTTP/1.1\r\n");
        assert_eq!(drain(&mut d), vec![Err(MllpError::Garbage { skipped: 16 })]);
        d.push(b"more junk");
        assert_eq!(drain(&mut d), vec![]);
        d.push(&frame(b"MSH|ok"));
        assert_eq!(drain(&mut d), vec![Ok(b"MSH|ok".to_vec())]);
        // Garbage and a frame in one read.
        d.push(b"xx");
        d.push(&frame(b"MSH|2"));
        assert_eq!(
            drain(&mut d),
            vec![
                Err(MllpError::Garbage { skipped: 2 }),
                Ok(b"MSH|2".to_vec())
            ]
        );
    }

    #[test]
    fn too_large_is_discarded_to_its_end_block() {
        let mut d = MllpDecoder::new(4);
        d.push(&frame(b"12345"));
        d.push(&frame(b"1234"));
        assert_eq!(
            drain(&mut d),
            vec![Err(MllpError::TooLarge { limit: 4 }), Ok(b"1234".to_vec())]
        );
        // Growing past the limit before its end arrives.
        d.push(b"\x0b123456");
        assert_eq!(drain(&mut d), vec![Err(MllpError::TooLarge { limit: 4 })]);
        d.push(b"789");
        assert_eq!(drain(&mut d), vec![]);
        d.push(b"\x1c\r");
        d.push(&frame(b"ok"));
        assert_eq!(drain(&mut d), vec![Ok(b"ok".to_vec())]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn end_block_without_cr() {
        let mut d = MllpDecoder::default();
        d.push(b"\x0bone\x1c\x0btwo\x1cX");
        assert_eq!(
            drain(&mut d),
            vec![
                Ok(b"one".to_vec()),
                Ok(b"two".to_vec()),
                Err(MllpError::Garbage { skipped: 1 })
            ]
        );
    }

    #[test]
    fn truncated() {
        let mut d = MllpDecoder::default();
        d.push(b"\x0bMSH|half");
        assert_eq!(drain(&mut d), vec![]);
        assert_eq!(d.finish(), Some(MllpError::Truncated { len: 8 }));
        assert_eq!(d.finish(), None);
        // A new start block inside a frame.
        d.push(b"\x0bcut\x0bwhole\x1c\r");
        assert_eq!(
            drain(&mut d),
            vec![Err(MllpError::Truncated { len: 3 }), Ok(b"whole".to_vec())]
        );
        d.push(b"junk");
        assert_eq!(drain(&mut d), vec![Err(MllpError::Garbage { skipped: 4 })]);
        assert_eq!(d.finish(), None);
    }

    proptest! {
        #[test]
        fn chunked_frames_roundtrip(
            payloads in proptest::collection::vec(
                proptest::collection::vec(any::<u8>().prop_filter("no block bytes", |b| *b != START && *b != END), 0..200),
                0..8),
            cuts in proptest::collection::vec(0usize..2000, 0..20),
            separators in proptest::collection::vec(prop_oneof![Just(&b""[..]), Just(&b"\r\n"[..]), Just(&b"\n"[..])], 8),
        ) {
            let mut stream = Vec::new();
            for (i, p) in payloads.iter().enumerate() {
                stream.extend(frame(p));
                stream.extend_from_slice(separators.get(i).copied().unwrap_or(b""));
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut d = MllpDecoder::new(1000);
            let mut got = Vec::new();
            let mut at = 0;
            for c in cuts {
                d.push(&stream[at..c]);
                at = c;
                for r in drain(&mut d) {
                    got.push(r.unwrap());
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert_eq!(d.finish(), None);
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut d = MllpDecoder::new(32);
            for c in &chunks {
                d.push(c);
                let _ = drain(&mut d);
                prop_assert!(d.buffered() <= 32 + 64 + 1);
            }
            let _ = d.finish();
        }
    }
}
