//! HL7 v2.5 messages: character sets, parsing, field access, typed extraction (patient, visit,
//! results), building and acknowledgements. Pure: no IO, no async; the transport is in
//! [`crate::mllp`].
//!
//! A [`Message`] keeps its text and one flat table of field positions, built in a single pass;
//! repetitions, components and subcomponents are split on access, and escapes are only undone
//! when a value is read ([`Element::text`]).
//!
//! Field numbering follows HL7: in MSH, MSH-1 is the field separator and MSH-2 the encoding
//! characters; in every other segment field n is the n-th value after the segment ID. Paths
//! for [`Message::get`] read like a terser's: `PID-5-1`, `OBX(2)-5`, `PID-3(1)-4-1`
//! (segment occurrence and field repetition in parentheses, both 0-based; field, component and
//! subcomponent numbers 1-based).
//!
//! Every problem is an [`Hl7Error`] naming the field (`PID-7`, `MSH-18`, `OBX-5`, `segment 4`)
//! with an English reason and the code of HL7 table 0357; nothing here panics on any input.

use std::borrow::Cow;
use std::fmt;

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

/// HL7 table 0357 (message error condition codes), the ones this module reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 100: a segment is missing, out of place or not a segment.
    SegmentSequence,
    /// 101: a required field is missing.
    RequiredFieldMissing,
    /// 102: a value does not fit its data type (or its character set).
    DataType,
    /// 103: a coded value is not in its table (e.g. an unknown MSH-18 character set).
    TableValueNotFound,
    /// 200: unsupported message type.
    UnsupportedMessageType,
    /// 201: unsupported event code.
    UnsupportedEventCode,
    /// 202: unsupported processing id.
    UnsupportedProcessingId,
    /// 203: unsupported version id.
    UnsupportedVersionId,
    /// 207: application internal error.
    ApplicationInternal,
}

impl ErrorCode {
    /// The number in table 0357.
    pub fn number(self) -> u16 {
        match self {
            ErrorCode::SegmentSequence => 100,
            ErrorCode::RequiredFieldMissing => 101,
            ErrorCode::DataType => 102,
            ErrorCode::TableValueNotFound => 103,
            ErrorCode::UnsupportedMessageType => 200,
            ErrorCode::UnsupportedEventCode => 201,
            ErrorCode::UnsupportedProcessingId => 202,
            ErrorCode::UnsupportedVersionId => 203,
            ErrorCode::ApplicationInternal => 207,
        }
    }

    /// The text of table 0357.
    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataType => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersionId => "Unsupported version id",
            ErrorCode::ApplicationInternal => "Application internal error",
        }
    }
}

/// A problem with a message: which field (`PID-7`, `MSH-18`, `OBX-5`, `PID`, `segment 4`), why
/// (English), where (0-based segment index and 1-based occurrence of that segment ID, when
/// known) and the table 0357 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7Error {
    pub field: String,
    pub reason: String,
    /// 0-based index of the segment in the message.
    pub segment_index: Option<usize>,
    /// 1-based occurrence of that segment ID (the third OBX is 3): ERR-2.2.
    pub segment_sequence: Option<usize>,
    pub code: ErrorCode,
}

impl Hl7Error {
    pub fn new(field: impl Into<String>, reason: impl Into<String>, code: ErrorCode) -> Self {
        Hl7Error {
            field: field.into(),
            reason: reason.into(),
            segment_index: None,
            segment_sequence: None,
            code,
        }
    }

    fn in_segment(mut self, msg: &Message, index: usize) -> Self {
        self.segment_index = Some(index);
        self.segment_sequence = msg.sequence_of(index);
        self
    }

    /// ERR-2 (error location, ERL): `SEG^sequence^field`, or `SEG` alone, when `field` names a
    /// segment or a field of one.
    pub fn location(&self) -> Option<(String, Option<usize>, Option<usize>)> {
        let (seg, rest) = match self.field.split_once('-') {
            Some((s, r)) => (s, Some(r)),
            None => (self.field.as_str(), None),
        };
        if !is_segment_id(seg.as_bytes()) {
            return None;
        }
        let field = match rest {
            Some(r) => Some(r.split('-').next().and_then(|n| n.parse::<usize>().ok())?),
            None => None,
        };
        Some((seg.to_owned(), self.segment_sequence, field))
    }
}

impl fmt::Display for Hl7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)?;
        if let Some(i) = self.segment_index {
            write!(f, " (segment {})", i + 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for Hl7Error {}

// ------------------------------------------------------------------------------------------
// Character sets
// ------------------------------------------------------------------------------------------

/// The character sets of MSH-18 this module reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `UNICODE UTF-8`, `UTF-8` or an empty MSH-18.
    Utf8,
    /// `GB 18030-2000`, `GB18030`, `GBK`, `GB2312`, `CHINESE`, `ISO IR58` (GBK and GB2312 are
    /// subsets of GB 18030, so one decoder reads them all).
    Gb18030,
    /// `ASCII`: bytes 0x00–0x7F only.
    Ascii,
    /// `8859/1` (ISO 8859-1, Latin-1): each byte is the code point of the same number.
    Latin1,
}

impl Charset {
    /// The character set an MSH-18 value names (case, spaces, `-`, `/` and `_` ignored), or
    /// `None` for one not supported.
    pub fn from_name(name: &str) -> Option<Charset> {
        let norm: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match norm.as_str() {
            "" | "UNICODEUTF8" | "UTF8" => Some(Charset::Utf8),
            "GB180302000" | "GB180302005" | "GB18030" | "GBK" | "GB2312" | "CHINESE"
            | "ISOIR58" | "CP936" => Some(Charset::Gb18030),
            "ASCII" | "USASCII" => Some(Charset::Ascii),
            "88591" | "ISO88591" | "LATIN1" => Some(Charset::Latin1),
            _ => None,
        }
    }

    /// The MSH-18 value to declare this character set with.
    pub fn msh18(self) -> &'static str {
        match self {
            Charset::Utf8 => "UNICODE UTF-8",
            Charset::Gb18030 => "GB 18030-2000",
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "8859/1",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Gb18030 => "GB 18030",
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "ISO 8859-1",
        }
    }

    /// Decodes `bytes` (without a BOM); `base` is added to byte offsets in errors.
    fn decode(self, bytes: &[u8], base: usize) -> Result<String, Hl7Error> {
        let bad = |offset: usize| {
            Hl7Error::new(
                "MSH-18",
                format!(
                    "the bytes are not valid in the declared character set {} (first invalid \
                     byte at offset {})",
                    self.label(),
                    offset + base
                ),
                ErrorCode::DataType,
            )
        };
        match self {
            Charset::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_owned()),
                Err(e) => Err(bad(e.valid_up_to())),
            },
            Charset::Ascii => match bytes.iter().position(|b| *b >= 0x80) {
                Some(p) => Err(bad(p)),
                None => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            },
            Charset::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Gb18030 => decode_gb18030(bytes).map_err(bad),
        }
    }
}

fn decode_gb18030(bytes: &[u8]) -> Result<String, usize> {
    use encoding_rs::DecoderResult;
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let first = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(2));
    let mut out = String::with_capacity(first);
    let mut read_total = 0usize;
    loop {
        let rest = bytes.get(read_total..).unwrap_or(&[]);
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut out, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => return Ok(out),
            DecoderResult::OutputFull => {
                let more = decoder
                    .max_utf8_buffer_length_without_replacement(
                        bytes.len().saturating_sub(read_total),
                    )
                    .unwrap_or(16)
                    .max(16);
                out.reserve(more);
            }
            DecoderResult::Malformed(bad, after) => {
                return Err(read_total.saturating_sub(usize::from(after) + usize::from(bad)));
            }
        }
    }
}

/// Encodes an outgoing message in the character set named (an MSH-18 value): UTF-8,
/// GB 18030, ASCII or Latin-1. A character the set cannot hold is an error naming MSH-18.
pub fn encode(text: &str, charset: &str) -> Result<Vec<u8>, Hl7Error> {
    let cs = Charset::from_name(charset).ok_or_else(|| unknown_charset(charset))?;
    let unmappable = |(offset, c): (usize, char)| {
        Hl7Error::new(
            "MSH-18",
            format!(
                "the character {c:?} at byte offset {offset} cannot be written in {}",
                cs.label()
            ),
            ErrorCode::DataType,
        )
    };
    match cs {
        Charset::Utf8 => Ok(text.as_bytes().to_vec()),
        Charset::Ascii => match text.char_indices().find(|(_, c)| !c.is_ascii()) {
            Some(bad) => Err(unmappable(bad)),
            None => Ok(text.as_bytes().to_vec()),
        },
        Charset::Latin1 => {
            let mut out = Vec::with_capacity(text.len());
            for (i, c) in text.char_indices() {
                match u8::try_from(u32::from(c)) {
                    Ok(b) => out.push(b),
                    Err(_) => return Err(unmappable((i, c))),
                }
            }
            Ok(out)
        }
        Charset::Gb18030 => {
            let (bytes, _, had_errors) = encoding_rs::GB18030.encode(text);
            if had_errors {
                let bad = text
                    .char_indices()
                    .find(|(_, c)| {
                        let mut buf = [0u8; 4];
                        encoding_rs::GB18030.encode(c.encode_utf8(&mut buf)).2
                    })
                    .unwrap_or((0, '\u{fffd}'));
                return Err(unmappable(bad));
            }
            Ok(bytes.into_owned())
        }
    }
}

fn unknown_charset(name: &str) -> Hl7Error {
    Hl7Error::new(
        "MSH-18",
        format!(
            "unknown character set {name:?} (supported: UNICODE UTF-8, GB 18030-2000 (also GBK, \
             GB2312, CHINESE), ASCII, 8859/1)"
        ),
        ErrorCode::TableValueNotFound,
    )
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn is_blank_byte(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

/// Where the MSH segment starts in `bytes` (after a UTF-8 BOM and blank lines), if the bytes
/// start with one.
fn msh_start(bytes: &[u8]) -> usize {
    let mut start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    while bytes.get(start).is_some_and(|b| is_blank_byte(*b)) {
        start += 1;
    }
    start
}

/// The MSH line of raw bytes split into its fields (split index = MSH field number - 1).
/// With `gb_aware`, a byte 0x81–0xFE takes the next byte with it (a GBK / GB 18030 trail byte
/// may be `|` or `^`).
fn raw_msh_fields(bytes: &[u8], gb_aware: bool) -> Option<(Vec<&[u8]>, u8, u8)> {
    let line = bytes.get(msh_start(bytes)..)?;
    if !line.starts_with(b"MSH") {
        return None;
    }
    let fs = *line.get(3)?;
    if fs == b'\r' || fs == b'\n' {
        return None;
    }
    let comp = line.get(4).copied().filter(|c| *c != fs).unwrap_or(b'^');
    let rep = line.get(5).copied().filter(|c| *c != fs).unwrap_or(b'~');
    let mut fields = Vec::with_capacity(20);
    let mut start = 0usize;
    let mut i = 0usize;
    while let Some(&b) = line.get(i) {
        if b == b'\r' || b == b'\n' {
            break;
        }
        if gb_aware && (0x81..=0xFE).contains(&b) {
            i += 2;
            continue;
        }
        if b == fs {
            fields.push(line.get(start..i).unwrap_or(&[]));
            start = i + 1;
        }
        i += 1;
    }
    let end = i.min(line.len());
    fields.push(line.get(start..end).unwrap_or(&[]));
    Some((fields, comp, rep))
}

/// First component of the first repetition of raw field bytes.
fn raw_first_component(raw: &[u8], comp: u8, rep: u8) -> &[u8] {
    let end = raw
        .iter()
        .position(|b| *b == comp || *b == rep)
        .unwrap_or(raw.len());
    raw.get(..end).unwrap_or(&[])
}

/// MSH-18 (first repetition) read from raw bytes, trimmed; `""` when absent.
fn sniff_charset_name(bytes: &[u8], gb_aware: bool) -> Option<String> {
    let (fields, comp, rep) = raw_msh_fields(bytes, gb_aware)?;
    let raw = fields.get(17).copied().unwrap_or(&[]);
    let value = raw_first_component(raw, comp, rep);
    Some(String::from_utf8_lossy(value).trim().to_owned())
}

/// The character set the raw bytes declare in MSH-18 (scanned on the bytes: all delimiters are
/// ASCII), or the error for an unknown one.
fn sniff_charset(bytes: &[u8]) -> Result<Charset, Hl7Error> {
    let naive = sniff_charset_name(bytes, false).unwrap_or_default();
    let msh_has_high_bytes = bytes
        .get(msh_start(bytes)..)
        .unwrap_or(&[])
        .iter()
        .take_while(|b| **b != b'\r' && **b != b'\n')
        .any(|b| *b >= 0x80);
    if msh_has_high_bytes {
        // A GBK trail byte can be `|`: if reading the MSH as GB 18030 finds a GB charset, it
        // is the right reading.
        if let Some(gb) = sniff_charset_name(bytes, true)
            && Charset::from_name(&gb) == Some(Charset::Gb18030)
        {
            return Ok(Charset::Gb18030);
        }
    }
    Charset::from_name(&naive).ok_or_else(|| unknown_charset(&naive))
}

/// Decodes raw bytes in the character set MSH-18 declares (UTF-8 when empty; a UTF-8 BOM is
/// dropped) and parses them.
pub fn decode(bytes: &[u8]) -> Result<Message, Hl7Error> {
    let start = msh_start(bytes);
    let body = bytes.get(start..).unwrap_or(&[]);
    if body.is_empty() {
        return Err(Hl7Error::new(
            "MSH",
            "the message is empty",
            ErrorCode::SegmentSequence,
        ));
    }
    if !body.starts_with(b"MSH") {
        return Err(not_msh());
    }
    let charset = sniff_charset(bytes)?;
    let text = charset.decode(body, start)?;
    Message::from_owned(text)
}

/// Parses a message already decoded to text.
pub fn parse(text: &str) -> Result<Message, Hl7Error> {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    let t = t.trim_start_matches(['\r', '\n', ' ', '\t']);
    Message::from_owned(t.to_owned())
}

fn not_msh() -> Hl7Error {
    Hl7Error::new(
        "MSH",
        "the message does not begin with an MSH segment",
        ErrorCode::SegmentSequence,
    )
}

// ------------------------------------------------------------------------------------------
// Delimiters, escapes
// ------------------------------------------------------------------------------------------

/// The delimiters of a message (MSH-1 and MSH-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: u8,
    pub component: u8,
    pub repetition: u8,
    pub escape: u8,
    pub subcomponent: u8,
    /// v2.7's truncation character, when MSH-2 has a fifth one.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: b'\\',
            subcomponent: b'&',
            truncation: None,
        }
    }
}

/// Undoes HL7 escapes: `\F\ \S\ \T\ \R\ \E\` (and `\P\` with a truncation character),
/// `\Xhh..\` (hex bytes, when they are UTF-8), `\.br\` (a newline). Other sequences stay as
/// they are.
pub fn unescape<'a>(raw: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let esc = char::from(d.escape);
    if !raw.contains(esc) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(esc) {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 1..).unwrap_or("");
        match after.find(esc) {
            None => {
                out.push_str(rest.get(start..).unwrap_or(""));
                return Cow::Owned(out);
            }
            Some(end) => {
                let seq = after.get(..end).unwrap_or("");
                if !expand_escape(seq, d, &mut out) {
                    out.push(esc);
                    out.push_str(seq);
                    out.push(esc);
                }
                rest = after.get(end + 1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn expand_escape(seq: &str, d: &Delimiters, out: &mut String) -> bool {
    let c = match seq {
        "F" => d.field,
        "S" => d.component,
        "T" => d.subcomponent,
        "R" => d.repetition,
        "E" => d.escape,
        "P" => match d.truncation {
            Some(t) => t,
            None => return false,
        },
        ".br" | ".BR" => b'\n',
        _ => {
            let Some(hex) = seq.strip_prefix(['X', 'x']) else {
                return false;
            };
            if hex.is_empty() || hex.len() % 2 != 0 {
                return false;
            }
            let mut bytes = Vec::with_capacity(hex.len() / 2);
            for pair in hex.as_bytes().chunks(2) {
                let (Some(h), Some(l)) = (
                    pair.first().and_then(|b| hex_val(*b)),
                    pair.get(1).and_then(|b| hex_val(*b)),
                ) else {
                    return false;
                };
                bytes.push(h * 16 + l);
            }
            return match String::from_utf8(bytes) {
                Ok(s) => {
                    out.push_str(&s);
                    true
                }
                Err(_) => false,
            };
        }
    };
    out.push(char::from(c));
    true
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Escapes a value for the standard delimiters `|^~\&`: the delimiters become `\F\ \S\ \R\
/// \E\ \T\`, a newline `\.br\` and a carriage return `\X0D\`.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value
        .bytes()
        .any(|b| matches!(b, b'|' | b'^' | b'~' | b'\\' | b'&' | b'\r' | b'\n'))
    {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '&' => out.push_str("\\T\\"),
            '\n' => out.push_str("\\.br\\"),
            '\r' => out.push_str("\\X0D\\"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

// ------------------------------------------------------------------------------------------
// Message
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct SegInfo {
    /// Index of the segment ID's span in `Message::fields`.
    first: usize,
    /// Number of spans (segment ID included).
    count: usize,
    start: usize,
    end: usize,
}

/// A parsed message: its text and the position of every field.
#[derive(Debug, Clone)]
pub struct Message {
    text: String,
    delims: Delimiters,
    segs: Vec<SegInfo>,
    /// Byte spans: for each segment, its ID then its fields split on the field separator.
    fields: Vec<(usize, usize)>,
}

fn is_segment_id(b: &[u8]) -> bool {
    matches!(b, [a, x, y] if a.is_ascii_uppercase()
        && (x.is_ascii_uppercase() || x.is_ascii_digit())
        && (y.is_ascii_uppercase() || y.is_ascii_digit()))
}

fn is_delimiter_byte(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// Closes the segment `seg_start..end` whose fields before the last are already in `fields`
/// (from the segment's first span on, which is `segs`' next `first`).
fn end_segment(
    text: &str,
    segs: &mut Vec<SegInfo>,
    fields: &mut Vec<(usize, usize)>,
    seg_start: usize,
    field_start: usize,
    end: usize,
) -> Result<(), Hl7Error> {
    let first = segs.last().map_or(0, |s| s.first + s.count);
    if end <= seg_start {
        // An empty line: nothing to keep.
        fields.truncate(first);
        return Ok(());
    }
    fields.push((field_start, end));
    let idx = segs.len();
    let (ns, ne) = fields.get(first).copied().unwrap_or((0, 0));
    let id = text.as_bytes().get(ns..ne).unwrap_or(&[]);
    if !is_segment_id(id) {
        let line = text.get(seg_start..end).unwrap_or("");
        let shown: String = line.chars().take(20).collect();
        return Err(Hl7Error::new(
            format!("segment {}", idx + 1),
            format!(
                "segment {} does not start with a segment ID (three upper-case letters or \
                 digits) followed by the field separator: {shown:?}",
                idx + 1
            ),
            ErrorCode::SegmentSequence,
        )
        .in_index(idx));
    }
    if idx > 0 && id == b"MSH" {
        return Err(Hl7Error::new(
            format!("segment {}", idx + 1),
            "a second MSH segment: one message per parse (split batches first)",
            ErrorCode::SegmentSequence,
        )
        .in_index(idx));
    }
    segs.push(SegInfo {
        first,
        count: fields.len() - first,
        start: seg_start,
        end,
    });
    Ok(())
}

impl Message {
    /// Parses text that starts with `MSH` (see [`parse`] for the lenient entry point).
    fn from_owned(text: String) -> Result<Message, Hl7Error> {
        let b = text.as_bytes();
        if b.is_empty() {
            return Err(Hl7Error::new(
                "MSH",
                "the message is empty",
                ErrorCode::SegmentSequence,
            ));
        }
        if !b.starts_with(b"MSH") {
            return Err(not_msh());
        }
        let fs = match b.get(3) {
            None | Some(b'\r' | b'\n') => {
                return Err(Hl7Error::new(
                    "MSH-1",
                    "the field separator is missing",
                    ErrorCode::RequiredFieldMissing,
                )
                .in_index(0));
            }
            Some(&c) => c,
        };
        if !is_delimiter_byte(fs) {
            return Err(Hl7Error::new(
                "MSH-1",
                format!(
                    "the field separator {:?} is not an ASCII punctuation character",
                    char::from(fs)
                ),
                ErrorCode::DataType,
            )
            .in_index(0));
        }
        let enc: Vec<u8> = b
            .iter()
            .skip(4)
            .take_while(|c| **c != fs && **c != b'\r' && **c != b'\n')
            .copied()
            .collect();
        let bad_enc = |why: String| {
            Hl7Error::new(
                "MSH-2",
                format!(
                    "the encoding characters {:?} {why}",
                    String::from_utf8_lossy(&enc)
                ),
                if enc.is_empty() {
                    ErrorCode::RequiredFieldMissing
                } else {
                    ErrorCode::DataType
                },
            )
            .in_index(0)
        };
        if enc.len() != 4 && enc.len() != 5 {
            return Err(bad_enc(
                "must be 4 characters (component, repetition, escape, subcomponent), or 5 with \
                 a truncation character"
                    .to_owned(),
            ));
        }
        for (i, c) in enc.iter().enumerate() {
            if !is_delimiter_byte(*c) {
                return Err(bad_enc(format!(
                    "contain {:?}, which is not an ASCII punctuation character",
                    char::from(*c)
                )));
            }
            if enc.iter().skip(i + 1).any(|o| o == c) {
                return Err(bad_enc(format!("repeat {:?}", char::from(*c))));
            }
        }
        let at = |i: usize| enc.get(i).copied().unwrap_or(0);
        let delims = Delimiters {
            field: fs,
            component: at(0),
            repetition: at(1),
            escape: at(2),
            subcomponent: at(3),
            truncation: enc.get(4).copied(),
        };

        let mut segs: Vec<SegInfo> = Vec::with_capacity(b.len() / 64 + 4);
        let mut fields: Vec<(usize, usize)> = Vec::with_capacity(b.len() / 6 + 8);
        let mut seg_start = 0usize;
        let mut field_start = 0usize;
        // One pass: a field separator closes a field, a CR or LF (or the end) a segment.
        let mut class = [0u8; 256];
        if let Some(c) = class.get_mut(usize::from(fs)) {
            *c = 1;
        }
        for nl in [b'\r', b'\n'] {
            if let Some(c) = class.get_mut(usize::from(nl)) {
                *c = 2;
            }
        }
        for (i, &c) in b.iter().enumerate() {
            match class.get(usize::from(c)).copied().unwrap_or(0) {
                0 => {}
                1 => {
                    fields.push((field_start, i));
                    field_start = i + 1;
                }
                _ => {
                    end_segment(&text, &mut segs, &mut fields, seg_start, field_start, i)?;
                    seg_start = i + 1;
                    field_start = i + 1;
                }
            }
        }
        end_segment(
            &text,
            &mut segs,
            &mut fields,
            seg_start,
            field_start,
            b.len(),
        )?;
        Ok(Message {
            text,
            delims,
            segs,
            fields,
        })
    }

    /// The whole text (as decoded).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn delimiters(&self) -> &Delimiters {
        &self.delims
    }

    /// All segments, in order.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = Segment<'_>> + '_ {
        (0..self.segs.len()).map(move |index| Segment { msg: self, index })
    }

    /// The number of segments.
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    /// Never true for a parsed message (it has an MSH).
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// The segment at a 0-based index.
    pub fn segment_at(&self, index: usize) -> Option<Segment<'_>> {
        (index < self.segs.len()).then_some(Segment { msg: self, index })
    }

    /// The first segment with this ID.
    pub fn segment(&self, name: &str) -> Option<Segment<'_>> {
        self.segments_named(name).next()
    }

    /// The segments with this ID, in order.
    pub fn segments_named<'a>(&'a self, name: &str) -> impl Iterator<Item = Segment<'a>> {
        self.segments().filter(move |s| s.name() == name)
    }

    /// 1-based occurrence of the segment at `index` among those with its ID.
    fn sequence_of(&self, index: usize) -> Option<usize> {
        let name = self.segment_at(index)?.name();
        Some(
            self.segments()
                .take(index + 1)
                .filter(|s| s.name() == name)
                .count(),
        )
    }

    /// The element a terser-like path names (`PID-5-1`, `OBX(2)-5`, `PID-3(1)-4-1`), even when
    /// empty; `None` when the path is malformed or its segment absent.
    pub fn element(&self, path: &str) -> Option<Element<'_>> {
        let mut parts = path.split('-');
        let (seg_name, seg_rep) = split_index(parts.next()?)?;
        let (field_no, field_rep) = split_index(parts.next()?)?;
        let field_no: usize = field_no.parse().ok()?;
        let comp: Option<usize> = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        let sub: Option<usize> = match parts.next() {
            Some(s) => Some(s.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        let seg = self.segments_named(seg_name).nth(seg_rep.unwrap_or(0))?;
        let mut e = seg.field(field_no);
        if let Some(r) = field_rep {
            e = e.repetition(r);
        }
        if let Some(c) = comp {
            e = e.component(c);
        }
        if let Some(s) = sub {
            e = e.subcomponent(s);
        }
        Some(e)
    }

    /// The unescaped value at a path (see [`Message::element`]); `None` when absent, empty or
    /// the HL7 null `""` (tell those apart with [`Message::is_null`]). A path to a whole field
    /// gives all its repetitions and components as sent, unescaped.
    pub fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        self.element(path)?.text()
    }

    /// The raw (still escaped) text at a path; `Some("")` when present but empty.
    pub fn get_raw(&self, path: &str) -> Option<&str> {
        Some(self.element(path)?.raw())
    }

    /// Whether the value at a path is the HL7 null `""` (delete the stored value), as opposed
    /// to empty (not sent).
    pub fn is_null(&self, path: &str) -> bool {
        self.element(path).is_some_and(|e| e.is_null())
    }

    /// One repetition (0-based) of a field path (`PID-3`), then a component and subcomponent
    /// (1-based; 0 for the whole repetition / component).
    pub fn get_rep(
        &self,
        field: &str,
        rep: usize,
        comp: usize,
        sub: usize,
    ) -> Option<Cow<'_, str>> {
        let mut e = self.element(field)?.repetition(rep);
        if comp > 0 {
            e = e.component(comp);
        }
        if sub > 0 {
            e = e.subcomponent(sub);
        }
        e.text()
    }

    /// The message header (MSH).
    pub fn header(&self) -> Result<Header, Hl7Error> {
        let msh = self.segment_at(0).ok_or_else(not_msh)?;
        let text = |n: usize| msh.field(n).text().map(|c| c.trim().to_owned());
        let hd = |n: usize| {
            let f = msh.field(n);
            string(f.component(1))
                .or_else(|| string(f.component(2)))
                .unwrap_or_default()
        };
        let msh9 = msh.field(9);
        let message_code = string(msh9.component(1)).ok_or_else(|| {
            Hl7Error::new(
                "MSH-9",
                "MSH-9 (message type) is missing",
                ErrorCode::RequiredFieldMissing,
            )
            .in_segment(self, 0)
        })?;
        let control_id = text(10).filter(|s| !s.is_empty()).ok_or_else(|| {
            Hl7Error::new(
                "MSH-10",
                "MSH-10 (message control ID) is missing",
                ErrorCode::RequiredFieldMissing,
            )
            .in_segment(self, 0)
        })?;
        let version = string(msh.field(12).component(1)).unwrap_or_else(|| "2.5".to_owned());
        if !version.starts_with("2.") {
            return Err(Hl7Error::new(
                "MSH-12",
                format!("version {version:?} is not an HL7 v2 version (2.x)"),
                ErrorCode::UnsupportedVersionId,
            )
            .in_segment(self, 0));
        }
        Ok(Header {
            sending_application: hd(3),
            sending_facility: hd(4),
            receiving_application: hd(5),
            receiving_facility: hd(6),
            timestamp: string(msh.field(7).component(1)).unwrap_or_default(),
            message_code,
            trigger_event: string(msh9.component(2)).unwrap_or_default(),
            structure: string(msh9.component(3)).unwrap_or_default(),
            control_id,
            processing_id: string(msh.field(11).component(1)).unwrap_or_default(),
            version,
            charset: string(msh.field(18).repetition(0)).unwrap_or_default(),
        })
    }
}

impl Hl7Error {
    fn in_index(mut self, index: usize) -> Self {
        self.segment_index = Some(index);
        self
    }
}

/// `NAME` or `NAME(k)` → (`NAME`, k).
fn split_index(s: &str) -> Option<(&str, Option<usize>)> {
    match s.split_once('(') {
        None => Some((s, None)),
        Some((name, rest)) => {
            let k = rest.strip_suffix(')')?.parse().ok()?;
            Some((name, Some(k)))
        }
    }
}

/// The trimmed, unescaped text of an element, `None` when empty or null.
fn string(e: Element<'_>) -> Option<String> {
    let t = e.text()?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A segment of a message.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    msg: &'a Message,
    index: usize,
}

impl<'a> Segment<'a> {
    fn info(&self) -> Option<&'a SegInfo> {
        self.msg.segs.get(self.index)
    }

    fn span(&self, split: usize) -> Option<&'a str> {
        let info = self.info()?;
        if split >= info.count {
            return None;
        }
        let (s, e) = *self.msg.fields.get(info.first + split)?;
        self.msg.text.get(s..e)
    }

    /// The segment ID (`PID`).
    pub fn name(&self) -> &'a str {
        self.span(0).unwrap_or("")
    }

    /// 0-based position in the message.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The segment's text.
    pub fn raw(&self) -> &'a str {
        self.info()
            .and_then(|i| self.msg.text.get(i.start..i.end))
            .unwrap_or("")
    }

    fn is_msh(&self) -> bool {
        // MSH is the first segment, and only the first (a second one is an error).
        self.index == 0
    }

    /// The highest field number present.
    pub fn field_count(&self) -> usize {
        let count = self.info().map_or(0, |i| i.count);
        if self.is_msh() {
            count
        } else {
            count.saturating_sub(1)
        }
    }

    /// Field `n` (HL7 numbering: MSH-1 is the field separator); an empty element when absent.
    pub fn field(&self, n: usize) -> Element<'a> {
        let d = self.msg.delims;
        if self.is_msh() {
            match n {
                0 => Element::literal(self.name(), d),
                1 => Element::literal(self.msg.text.get(3..4).unwrap_or(""), d),
                2 => Element::literal(self.span(1).unwrap_or(""), d),
                n => Element::field(self.span(n - 1).unwrap_or(""), d),
            }
        } else if n == 0 {
            Element::literal(self.name(), d)
        } else {
            Element::field(self.span(n).unwrap_or(""), d)
        }
    }
}

/// Part `n` (0-based) of `raw` split on the ASCII byte `sep`.
fn nth_part(raw: &str, sep: u8, n: usize) -> Option<&str> {
    let mut start = 0usize;
    let mut k = 0usize;
    for (i, &c) in raw.as_bytes().iter().enumerate() {
        if c == sep {
            if k == n {
                return raw.get(start..i);
            }
            k += 1;
            start = i + 1;
        }
    }
    if k == n { raw.get(start..) } else { None }
}

const LEVEL_FIELD: u8 = 0;
const LEVEL_REP: u8 = 1;
const LEVEL_COMP: u8 = 2;
const LEVEL_SUB: u8 = 3;

/// A field, repetition, component or subcomponent: its raw text, split further on demand.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    raw: &'a str,
    delims: Delimiters,
    level: u8,
    /// MSH-1 and MSH-2: taken as they are, never split or unescaped.
    literal: bool,
}

impl<'a> Element<'a> {
    fn field(raw: &'a str, delims: Delimiters) -> Self {
        Element {
            raw,
            delims,
            level: LEVEL_FIELD,
            literal: false,
        }
    }

    fn literal(raw: &'a str, delims: Delimiters) -> Self {
        Element {
            raw,
            delims,
            level: LEVEL_SUB,
            literal: true,
        }
    }

    fn child(&self, raw: &'a str, level: u8) -> Self {
        Element {
            raw,
            delims: self.delims,
            level,
            literal: false,
        }
    }

    /// The raw text, escapes and delimiters included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The HL7 null `""`.
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// The unescaped text; `None` when empty or null.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        if self.raw.is_empty() || self.is_null() {
            return None;
        }
        if self.literal {
            return Some(Cow::Borrowed(self.raw));
        }
        Some(unescape(self.raw, &self.delims))
    }

    /// The repetitions of a field (an element below field level is its own only repetition).
    pub fn repetitions(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        let this = *self;
        let split = self.level == LEVEL_FIELD && !self.literal;
        let sep = char::from(self.delims.repetition);
        let mut parts = split.then(|| self.raw.split(sep));
        let mut once = (!split).then_some(this);
        std::iter::from_fn(move || match parts.as_mut() {
            Some(p) => p.next().map(|r| this.child(r, LEVEL_REP)),
            None => once.take(),
        })
    }

    /// Repetition `i` (0-based); empty when absent.
    pub fn repetition(&self, i: usize) -> Element<'a> {
        if self.level == LEVEL_FIELD && !self.literal {
            nth_part(self.raw, self.delims.repetition, i)
                .map_or_else(|| self.child("", LEVEL_REP), |r| self.child(r, LEVEL_REP))
        } else if i == 0 {
            *self
        } else {
            self.child("", LEVEL_REP)
        }
    }

    /// Component `c` (1-based) of the first repetition; empty when absent.
    pub fn component(&self, c: usize) -> Element<'a> {
        let base = if self.level == LEVEL_FIELD && !self.literal {
            self.repetition(0)
        } else {
            *self
        };
        if base.level >= LEVEL_COMP || base.literal {
            return if c == 1 {
                base
            } else {
                self.child("", LEVEL_COMP)
            };
        }
        if c == 0 {
            return self.child("", LEVEL_COMP);
        }
        nth_part(base.raw, self.delims.component, c - 1)
            .map_or_else(|| self.child("", LEVEL_COMP), |r| self.child(r, LEVEL_COMP))
    }

    /// Subcomponent `s` (1-based) of the first component; empty when absent.
    pub fn subcomponent(&self, s: usize) -> Element<'a> {
        let base = if self.level < LEVEL_COMP && !self.literal {
            self.component(1)
        } else {
            *self
        };
        if base.level >= LEVEL_SUB || base.literal {
            return if s == 1 {
                base
            } else {
                self.child("", LEVEL_SUB)
            };
        }
        if s == 0 {
            return self.child("", LEVEL_SUB);
        }
        nth_part(base.raw, self.delims.subcomponent, s - 1)
            .map_or_else(|| self.child("", LEVEL_SUB), |r| self.child(r, LEVEL_SUB))
    }
}

// ------------------------------------------------------------------------------------------
// Header
// ------------------------------------------------------------------------------------------

/// MSH, as values (HD fields give their namespace ID, or the universal ID when that is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-7.
    pub timestamp: String,
    /// MSH-9-1 (`ORU`).
    pub message_code: String,
    /// MSH-9-2 (`R01`).
    pub trigger_event: String,
    /// MSH-9-3 (`ORU_R01`).
    pub structure: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-11 (`P`, `D`, `T`).
    pub processing_id: String,
    /// MSH-12; `2.5` when empty.
    pub version: String,
    /// MSH-18 (first repetition), as sent.
    pub charset: String,
}

/// The header read from raw bytes as far as it goes, for answering a message that cannot be
/// parsed: fields that cannot be found are empty.
pub fn sniff_header(bytes: &[u8]) -> Header {
    let mut h = Header {
        version: "2.5".to_owned(),
        ..Header::default()
    };
    let Some((fields, comp, rep)) = raw_msh_fields(bytes, false) else {
        return h;
    };
    let charset = sniff_charset(bytes).unwrap_or(Charset::Utf8);
    let value = |n: usize| -> String {
        let raw = fields.get(n - 1).copied().unwrap_or(&[]);
        let v = raw_first_component(raw, comp, rep);
        match charset.decode(v, 0) {
            Ok(s) => s,
            Err(_) => String::from_utf8_lossy(v).into_owned(),
        }
        .trim()
        .to_owned()
    };
    h.sending_application = value(3);
    h.sending_facility = value(4);
    h.receiving_application = value(5);
    h.receiving_facility = value(6);
    h.timestamp = value(7);
    h.message_code = value(9);
    // MSH-9-2: the second component.
    if let Some(raw) = fields.get(8) {
        let mut comps = raw.split(|b| *b == comp || *b == rep);
        comps.next();
        if let Some(t) = comps.next() {
            h.trigger_event = String::from_utf8_lossy(t).trim().to_owned();
        }
    }
    h.control_id = {
        let raw = fields.get(9).copied().unwrap_or(&[]);
        String::from_utf8_lossy(raw).trim().to_owned()
    };
    h.processing_id = value(11);
    let v = value(12);
    if v.starts_with("2.") {
        h.version = v;
    }
    h.charset = value(18);
    h
}

// ------------------------------------------------------------------------------------------
// Typed extraction
// ------------------------------------------------------------------------------------------

/// One identifier of a patient (CX).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    /// CX-1.
    pub id: String,
    /// CX-4-1.
    pub assigning_authority: Option<String>,
    /// CX-5 (`MR`, `NNCHN`, `SSN`, …).
    pub type_code: Option<String>,
}

/// Who the patient is, from PID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientIdentity {
    /// PID-3 (every repetition), then PID-2, then PID-19 (type `SSN`).
    pub identifiers: Vec<Identifier>,
    /// PID-5 (first repetition).
    pub name: Option<String>,
    /// PID-8, as sent.
    pub sex: Option<String>,
    /// PID-7, `YYYYMMDD`.
    pub birth_date: Option<String>,
    /// PID-13: XTN-1, or XTN-12, or XTN-6 and XTN-7.
    pub phone: Option<String>,
    /// PID-11.
    pub address: Option<String>,
    /// PID-22-1.
    pub ethnicity: Option<String>,
    /// PID-28-1, or PID-26-1.
    pub nationality: Option<String>,
}

const ID_NUMBER_TYPES: [&str; 4] = ["NNCHN", "NI", "ID", "CHNID"];
const RECORD_TYPES: [&str; 3] = ["MR", "PI", "PT"];

fn has_type(i: &Identifier, types: &[&str]) -> bool {
    i.type_code
        .as_deref()
        .is_some_and(|t| types.iter().any(|x| x.eq_ignore_ascii_case(t)))
}

/// 18 characters `[0-9]{17}[0-9Xx]`, or 15 digits: the shape of a resident ID number.
pub fn looks_like_id_number(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        18 => {
            b.iter().take(17).all(u8::is_ascii_digit)
                && b.get(17)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'X' || *c == b'x')
        }
        15 => b.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

impl PatientIdentity {
    /// The resident ID number: the identifier typed NNCHN, NI, ID or CHNID, else the first
    /// shaped like one.
    pub fn id_number(&self) -> Option<&str> {
        self.id_number_identifier().map(|i| i.id.as_str())
    }

    fn id_number_identifier(&self) -> Option<&Identifier> {
        self.identifiers
            .iter()
            .find(|i| has_type(i, &ID_NUMBER_TYPES))
            .or_else(|| {
                self.identifiers
                    .iter()
                    .find(|i| looks_like_id_number(&i.id))
            })
    }

    /// The medical record number: the identifier typed MR, PI or PT, else the first that is
    /// not the ID number.
    pub fn record_number(&self) -> Option<&str> {
        if let Some(i) = self.identifiers.iter().find(|i| has_type(i, &RECORD_TYPES)) {
            return Some(&i.id);
        }
        let idn = self.id_number_identifier();
        self.identifiers
            .iter()
            .find(|i| !idn.is_some_and(|n| std::ptr::eq(*i, n)))
            .map(|i| i.id.as_str())
    }
}

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F
        | 0x3000..=0x303F | 0xFF00..=0xFFEF | 0xB7 | 0x2022 | 0x30FB)
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(is_cjk)
}

/// Family and given name as one: without a space when either is Chinese, `family given`
/// otherwise.
fn join_name(family: Option<String>, given: Option<String>) -> Option<String> {
    match (family, given) {
        (Some(f), Some(g)) => {
            if has_cjk(&f) || has_cjk(&g) {
                Some(f + &g)
            } else {
                Some(format!("{f} {g}"))
            }
        }
        (Some(f), None) => Some(f),
        (None, g) => g,
    }
}

/// A person name from XPN (family in 1, given in 2) or XCN (id in 1, family in 2, given in 3).
fn xpn_name(e: Element<'_>) -> Option<String> {
    join_name(
        string(e.component(1).subcomponent(1)),
        string(e.component(2)),
    )
}

fn xcn_name(e: Element<'_>) -> Option<String> {
    join_name(
        string(e.component(2).subcomponent(1)),
        string(e.component(3)),
    )
    .or_else(|| string(e.component(1)))
}

fn valid_yyyymmdd(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        b.get(r)
            .unwrap_or(&[])
            .iter()
            .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'))
    };
    let (y, m, d) = (num(0..4), num(4..6), num(6..8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1800 && d >= 1 && d <= days
}

fn address(e: Element<'_>) -> Option<String> {
    let street = string(e.component(1).subcomponent(1));
    let other = string(e.component(2));
    let city = string(e.component(3));
    let state = string(e.component(4));
    let parts: Vec<String> = [state.clone(), city.clone(), other.clone(), street.clone()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        return None;
    }
    if parts.iter().any(|p| has_cjk(p)) {
        // Chinese order, general to particular, no separators; a part already spelled out by
        // the next one (a street given with its province) is not repeated.
        let mut acc = String::new();
        for p in parts {
            if acc.is_empty() || p.starts_with(&acc) {
                acc = p;
            } else if !acc.contains(&p) {
                acc.push_str(&p);
            }
        }
        Some(acc)
    } else {
        Some(
            [street, other, city, state]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

fn seg_error(
    msg: &Message,
    index: usize,
    field: &str,
    reason: String,
    code: ErrorCode,
) -> Hl7Error {
    Hl7Error::new(field, reason, code).in_segment(msg, index)
}

/// The patient of a message, from its (first) PID.
pub fn patient(msg: &Message) -> Result<PatientIdentity, Hl7Error> {
    let pid = msg.segment("PID").ok_or_else(|| {
        Hl7Error::new(
            "PID",
            "the message has no PID segment",
            ErrorCode::SegmentSequence,
        )
    })?;
    let idx = pid.index();
    let mut identifiers = Vec::new();
    let cx = |e: Element<'_>, default_type: Option<&str>| {
        string(e.component(1)).map(|id| Identifier {
            id,
            assigning_authority: string(e.component(4).subcomponent(1)),
            type_code: string(e.component(5)).or_else(|| default_type.map(str::to_owned)),
        })
    };
    identifiers.extend(pid.field(3).repetitions().filter_map(|r| cx(r, None)));
    identifiers.extend(pid.field(2).repetitions().filter_map(|r| cx(r, None)));
    if let Some(ssn) = string(pid.field(19).repetition(0)) {
        identifiers.push(Identifier {
            id: ssn,
            assigning_authority: None,
            type_code: Some("SSN".to_owned()),
        });
    }
    let name = pid.field(5).repetitions().find_map(xpn_name);
    if identifiers.is_empty() && name.is_none() {
        return Err(seg_error(
            msg,
            idx,
            "PID-3",
            "the patient has neither an identifier (PID-3) nor a name (PID-5)".to_owned(),
            ErrorCode::RequiredFieldMissing,
        ));
    }
    let birth_date = match string(pid.field(7).component(1)) {
        None => None,
        Some(ts) => {
            let date = ts.get(..8).unwrap_or(&ts);
            if !valid_yyyymmdd(date) {
                return Err(seg_error(
                    msg,
                    idx,
                    "PID-7",
                    format!("birth date {ts:?} does not start with a valid date YYYYMMDD"),
                    ErrorCode::DataType,
                ));
            }
            Some(date.to_owned())
        }
    };
    let phone = {
        let x = pid.field(13).repetition(0);
        string(x.component(1))
            .or_else(|| string(x.component(12)))
            .or_else(|| {
                let local = string(x.component(7))?;
                Some(match string(x.component(6)) {
                    Some(area) => format!("{area}-{local}"),
                    None => local,
                })
            })
    };
    Ok(PatientIdentity {
        identifiers,
        name,
        sex: string(pid.field(8).component(1)),
        birth_date,
        phone,
        address: pid.field(11).repetitions().find_map(address),
        ethnicity: string(pid.field(22).component(1)),
        nationality: string(pid.field(28).component(1))
            .or_else(|| string(pid.field(26).component(1))),
    })
}

/// The visit, from PV1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    /// PV1-2 (`I` inpatient, `O` outpatient, `E` emergency…).
    pub class: Option<String>,
    /// PV1-3: point of care, room, bed, facility, separated by spaces.
    pub location: Option<String>,
    /// PV1-3-1, or PV1-10.
    pub department: Option<String>,
    /// PV1-7: the doctor's name (XCN-2 and XCN-3), or the id (XCN-1).
    pub attending_doctor: Option<String>,
    /// PV1-7-1.
    pub attending_doctor_id: Option<String>,
    /// PV1-19-1.
    pub visit_number: Option<String>,
    /// PV1-44.
    pub admit_time: Option<String>,
    /// PV1-45.
    pub discharge_time: Option<String>,
}

/// The visit of a message (its first PV1), if it has one.
pub fn visit(msg: &Message) -> Option<Visit> {
    let pv1 = msg.segment("PV1")?;
    let loc = pv1.field(3);
    let location: Vec<String> = [
        string(loc.component(1)),
        string(loc.component(2)),
        string(loc.component(3)),
        string(loc.component(4).subcomponent(1)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let doctor = pv1.field(7).repetition(0);
    Some(Visit {
        class: string(pv1.field(2).component(1)),
        location: (!location.is_empty()).then(|| location.join(" ")),
        department: string(loc.component(1)).or_else(|| string(pv1.field(10).component(1))),
        attending_doctor: xcn_name(doctor),
        attending_doctor_id: string(doctor.component(1)),
        visit_number: string(pv1.field(19).component(1)),
        admit_time: string(pv1.field(44).component(1)),
        discharge_time: string(pv1.field(45).repetition(0).component(1)),
    })
}

/// One result (OBX).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Obx {
    /// OBX-1.
    pub set_id: Option<String>,
    /// OBX-2 (`NM`, `ST`, `TX`, `CE`…).
    pub value_type: Option<String>,
    /// OBX-3-1 (or OBX-3-4, the alternate identifier).
    pub code: String,
    /// OBX-3-2 (or OBX-3-5).
    pub name: Option<String>,
    /// OBX-3-3 (or OBX-3-6).
    pub code_system: Option<String>,
    /// OBX-4.
    pub sub_id: Option<String>,
    /// OBX-5: the first repetition; ST/TX/FT repetitions joined by newlines; the text of a
    /// coded value (CE/CWE/CNE), its code in `value_code`; SN components joined (`>100`,
    /// `1:128`).
    pub value: Option<String>,
    /// OBX-5-1 of a coded value.
    pub value_code: Option<String>,
    /// OBX-6-1, or OBX-6-2.
    pub unit: Option<String>,
    /// OBX-7.
    pub ref_range: Option<String>,
    /// OBX-8 (first repetition): `H`, `L`, `N`, `A`…
    pub abnormal: Option<String>,
    /// OBX-11; `F` when absent.
    pub status: String,
    /// OBX-14.
    pub observed_at: Option<String>,
    /// OBX-15-1 (or OBX-15-2).
    pub producer: Option<String>,
    /// NTE-3 of the NTE segments after this OBX.
    pub notes: Vec<String>,
}

/// One ORDER_OBSERVATION group of an ORU^R01: ORC, OBR, its OBXs and notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// OBR-1.
    pub set_id: Option<String>,
    /// OBR-2-1, or ORC-2-1.
    pub placer: Option<String>,
    /// OBR-3-1, or ORC-3-1.
    pub filler: Option<String>,
    /// OBR-4-1.
    pub service_code: Option<String>,
    /// OBR-4-2.
    pub service_name: Option<String>,
    /// OBR-4-3.
    pub service_system: Option<String>,
    /// OBR-7.
    pub observed_at: Option<String>,
    /// OBR-22.
    pub reported_at: Option<String>,
    /// OBR-25.
    pub result_status: Option<String>,
    /// OBR-24.
    pub diagnostic_service: Option<String>,
    /// OBR-16: the name (XCN-2, XCN-3) or the id.
    pub ordering_provider: Option<String>,
    pub observations: Vec<Obx>,
    /// NTE-3 of the NTE segments right after the OBR.
    pub notes: Vec<String>,
}

/// An HL7 NM: an optional sign, digits, at most one decimal point.
fn is_hl7_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut digits = 0usize;
    let mut dots = 0usize;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if c == '.' {
            dots += 1;
        } else {
            return false;
        }
    }
    digits > 0 && dots <= 1
}

fn note_text(nte: Segment<'_>) -> Option<String> {
    let lines: Vec<Cow<'_, str>> = nte
        .field(3)
        .repetitions()
        .map(|r| r.text().unwrap_or(Cow::Borrowed("")))
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn obx(msg: &Message, seg: Segment<'_>) -> Result<Obx, Hl7Error> {
    let idx = seg.index();
    let set_id = string(seg.field(1));
    let which = || match &set_id {
        Some(s) => format!("OBX set ID {s}"),
        None => format!("the OBX at segment {}", idx + 1),
    };
    let id = seg.field(3);
    let (code, name, code_system) = match (string(id.component(1)), string(id.component(2))) {
        (None, None) => match (string(id.component(4)), string(id.component(5))) {
            (None, None) => {
                return Err(seg_error(
                    msg,
                    idx,
                    "OBX-3",
                    format!("{}: the observation identifier (OBX-3) is empty", which()),
                    ErrorCode::RequiredFieldMissing,
                ));
            }
            (c, n) => (c.unwrap_or_default(), n, string(id.component(6))),
        },
        (c, n) => (c.unwrap_or_default(), n, string(id.component(3))),
    };
    let value_type = string(seg.field(2)).map(|t| t.to_ascii_uppercase());
    let v = seg.field(5);
    let first = v.repetition(0);
    let mut value_code = None;
    let value = match value_type.as_deref() {
        Some("ST" | "TX" | "FT") => {
            let lines: Vec<Cow<'_, str>> = v
                .repetitions()
                .map(|r| r.text().unwrap_or(Cow::Borrowed("")))
                .collect();
            let joined = lines.join("\n");
            (!joined.trim().is_empty()).then_some(joined)
        }
        Some("NM") => match string(first) {
            None => None,
            Some(n) => {
                if !is_hl7_number(&n) {
                    return Err(seg_error(
                        msg,
                        idx,
                        "OBX-5",
                        format!(
                            "{} ({}): the value {n:?} is not a number, but OBX-2 says NM",
                            which(),
                            code
                        ),
                        ErrorCode::DataType,
                    ));
                }
                Some(n)
            }
        },
        Some("SN") => {
            let joined: String = (1..=4)
                .filter_map(|c| first.component(c).text())
                .collect::<Vec<_>>()
                .concat();
            let joined = joined.trim();
            (!joined.is_empty()).then(|| joined.to_owned())
        }
        Some("CE" | "CWE" | "CNE") => {
            value_code = string(first.component(1));
            string(first.component(2)).or_else(|| value_code.clone())
        }
        Some("DT" | "TM" | "TS" | "DTM") => string(first.component(1)),
        _ => string(first),
    };
    let unit = {
        let u = seg.field(6);
        string(u.component(1)).or_else(|| string(u.component(2)))
    };
    let producer = {
        let p = seg.field(15);
        string(p.component(1)).or_else(|| string(p.component(2)))
    };
    Ok(Obx {
        set_id,
        value_type,
        code,
        name,
        code_system,
        sub_id: string(seg.field(4)),
        value,
        value_code,
        unit,
        ref_range: string(seg.field(7)),
        abnormal: string(seg.field(8).repetition(0)),
        status: string(seg.field(11)).unwrap_or_else(|| "F".to_owned()),
        observed_at: string(seg.field(14).component(1)),
        producer,
        notes: Vec::new(),
    })
}

/// The reports of an ORU^R01 (one per ORDER_OBSERVATION group, OBR with its ORC, OBXs and
/// NTEs), in order.
pub fn reports(msg: &Message) -> Result<Vec<Report>, Hl7Error> {
    enum Last {
        Other,
        Report,
        Obx,
    }
    let mut out: Vec<Report> = Vec::new();
    let mut orc: Option<Segment<'_>> = None;
    let mut last = Last::Other;
    for seg in msg.segments() {
        match seg.name() {
            "ORC" => {
                orc = Some(seg);
                last = Last::Other;
            }
            "OBR" => {
                let idx = seg.index();
                let from_orc = |n: usize| orc.and_then(|o| string(o.field(n).component(1)));
                let placer = string(seg.field(2).component(1)).or_else(|| from_orc(2));
                let filler = string(seg.field(3).component(1)).or_else(|| from_orc(3));
                if placer.is_none() && filler.is_none() {
                    return Err(seg_error(
                        msg,
                        idx,
                        "OBR-3",
                        "the order has neither a filler order number (OBR-3, ORC-3) nor a \
                         placer order number (OBR-2, ORC-2)"
                            .to_owned(),
                        ErrorCode::RequiredFieldMissing,
                    ));
                }
                let service = seg.field(4);
                out.push(Report {
                    set_id: string(seg.field(1)),
                    placer,
                    filler,
                    service_code: string(service.component(1)),
                    service_name: string(service.component(2)),
                    service_system: string(service.component(3)),
                    observed_at: string(seg.field(7).component(1)),
                    reported_at: string(seg.field(22).component(1)),
                    result_status: string(seg.field(25)),
                    diagnostic_service: string(seg.field(24)),
                    ordering_provider: xcn_name(seg.field(16).repetition(0)),
                    observations: Vec::new(),
                    notes: Vec::new(),
                });
                orc = None;
                last = Last::Report;
            }
            "OBX" => {
                let o = obx(msg, seg)?;
                let Some(report) = out.last_mut() else {
                    return Err(seg_error(
                        msg,
                        seg.index(),
                        "OBR",
                        "an OBX comes before any OBR: results must follow their order (OBR)"
                            .to_owned(),
                        ErrorCode::SegmentSequence,
                    ));
                };
                report.observations.push(o);
                last = Last::Obx;
            }
            "NTE" => {
                if let Some(text) = note_text(seg) {
                    match (&last, out.last_mut()) {
                        (Last::Report, Some(r)) => r.notes.push(text),
                        (Last::Obx, Some(r)) => {
                            if let Some(o) = r.observations.last_mut() {
                                o.notes.push(text);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => last = Last::Other,
        }
    }
    if out.is_empty() {
        return Err(Hl7Error::new(
            "OBR",
            "the message has no OBR segment (an ORU^R01 carries its results in OBR groups)",
            ErrorCode::SegmentSequence,
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Building
// ------------------------------------------------------------------------------------------

/// Fields beyond this number are ignored by [`SegmentBuilder`].
pub const MAX_BUILD_FIELD: usize = 999;

/// One segment being built, with the standard delimiters `|^~\&`. Values given as text are
/// escaped; `raw` values are written as they are (only CR and LF are escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentBuilder {
    name: String,
    /// Index = HL7 field number.
    fields: Vec<String>,
}

impl SegmentBuilder {
    pub fn new(name: &str) -> Self {
        SegmentBuilder {
            name: name.to_owned(),
            fields: Vec::new(),
        }
    }

    fn set(mut self, n: usize, value: String) -> Self {
        let is_msh = self.name == "MSH";
        if n == 0 || n > MAX_BUILD_FIELD || (is_msh && n <= 2) {
            return self;
        }
        if self.fields.len() <= n {
            self.fields.resize(n + 1, String::new());
        }
        if let Some(f) = self.fields.get_mut(n) {
            *f = value;
        }
        self
    }

    /// Field `n` as one text value.
    pub fn field(self, n: usize, value: &str) -> Self {
        let v = escape(value).into_owned();
        self.set(n, v)
    }

    /// Field `n` from components.
    pub fn components(self, n: usize, comps: &[&str]) -> Self {
        let v = join_escaped(comps, "^");
        self.set(n, v)
    }

    /// Field `n` from repetitions, each a list of components.
    pub fn repetitions(self, n: usize, reps: &[&[&str]]) -> Self {
        let v = reps
            .iter()
            .map(|r| join_escaped(r, "^"))
            .collect::<Vec<_>>()
            .join("~");
        self.set(n, v)
    }

    /// Field `n` as the HL7 null `""`.
    pub fn null(self, n: usize) -> Self {
        self.set(n, "\"\"".to_owned())
    }

    /// Field `n` already in HL7 syntax (delimiters and escapes as given).
    pub fn raw(self, n: usize, raw: &str) -> Self {
        let v = raw.replace('\r', "\\X0D\\").replace('\n', "\\.br\\");
        self.set(n, v)
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.name);
        let is_msh = self.name == "MSH";
        if is_msh {
            out.push_str("|^~\\&");
        }
        let from = if is_msh { 3 } else { 1 };
        for f in self.fields.iter().skip(from) {
            out.push('|');
            out.push_str(f);
        }
        out.push('\r');
    }
}

fn join_escaped(parts: &[&str], sep: &str) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&escape(p));
    }
    // Trailing empty components are not written.
    let trimmed = s.trim_end_matches('^').len();
    s.truncate(trimmed);
    s
}

/// A message being built: segments written in order, each ended by CR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageBuilder {
    out: String,
}

impl MessageBuilder {
    pub fn new() -> Self {
        MessageBuilder::default()
    }

    pub fn segment(mut self, seg: SegmentBuilder) -> Self {
        seg.write(&mut self.out);
        self
    }

    pub fn build(self) -> String {
        self.out
    }
}

/// MSA-1 acknowledgement codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
    /// Commit accept.
    CA,
    /// Commit error.
    CE,
    /// Commit reject.
    CR,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }
}

/// The character set an acknowledgement is written in: GB 18030 for a sender that writes
/// GB 18030 (or GBK, GB 2312), UTF-8 for everyone else (ASCII senders read it as ASCII unless
/// an echoed value is not ASCII).
pub fn ack_charset(original: &Header) -> Charset {
    match Charset::from_name(&original.charset) {
        Some(Charset::Gb18030) => Charset::Gb18030,
        _ => Charset::Utf8,
    }
}

/// The acknowledgement of a message: MSH with sender and receiver swapped, MSH-9
/// `ACK^<trigger>^ACK`, a new control id, MSH-11 and MSH-12 echoed (12 defaults to 2.5),
/// MSH-18 [`ack_charset`] (the acknowledgement is to be sent in it); MSA (code, original control id, text: `text`, else the error's
/// reason); with an error, ERR in the v2.5 layout (ERR-2 location, ERR-3 table 0357 code,
/// ERR-4 severity E, ERR-8 the reason). `now` is MSH-7 (`YYYYMMDDHHMMSS+0800`).
pub fn ack(
    original_header: &Header,
    code: AckCode,
    text: Option<&str>,
    error: Option<&Hl7Error>,
    now: &str,
    control_id: &str,
) -> String {
    let h = original_header;
    let version = if h.version.is_empty() {
        "2.5"
    } else {
        h.version.as_str()
    };
    let msh = SegmentBuilder::new("MSH")
        .field(3, &h.receiving_application)
        .field(4, &h.receiving_facility)
        .field(5, &h.sending_application)
        .field(6, &h.sending_facility)
        .field(7, now)
        .components(9, &["ACK", &h.trigger_event, "ACK"])
        .field(10, control_id)
        .field(11, &h.processing_id)
        .field(12, version)
        .field(18, ack_charset(h).msh18());
    let msa_text = text
        .map(str::to_owned)
        .or_else(|| error.map(|e| e.reason.clone()));
    let mut msa = SegmentBuilder::new("MSA")
        .field(1, code.as_str())
        .field(2, &h.control_id);
    if let Some(t) = msa_text {
        msa = msa.field(3, &t);
    }
    let mut b = MessageBuilder::new().segment(msh).segment(msa);
    if let Some(e) = error {
        let mut err = SegmentBuilder::new("ERR");
        if let Some((seg, sequence, field)) = e.location() {
            let seq = sequence.unwrap_or(1).to_string();
            let field = field.map(|f| f.to_string()).unwrap_or_default();
            err = err.components(2, &[&seg, &seq, &field]);
        }
        let number = e.code.number().to_string();
        err = err
            .components(3, &[&number, e.code.text(), "HL70357"])
            .field(4, "E")
            .field(8, &e.reason);
        b = b.segment(err);
    }
    b.build()
}

/// The acknowledgement (usually AR) of bytes that could not be parsed: what can be found of the
/// header (control id, applications, trigger) is used, see [`sniff_header`].
pub fn ack_for_unparseable(
    bytes: &[u8],
    code: AckCode,
    error: &Hl7Error,
    now: &str,
    control_id: &str,
) -> String {
    let h = sniff_header(bytes);
    ack(&h, code, None, Some(error), now, control_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORU: &str = "MSH|^~\\&|LIS|LAB|HIS|HOSP|20240301120000||ORU^R01^ORU_R01|C1|P|2.5\r\
PID|1||110101199003074514^^^CHN^NNCHN~MR1^^^H^MR||张^伟||19900307|M\r\
OBR|1|P1|F1|CBC^血常规^L|||20240301080000\r\
NTE|1||order note\r\
OBX|1|NM|HGB^血红蛋白^L||135|g/L|130-175|N|||F\r\
NTE|1||obx note\r\
OBX|2|ST|C^Comment||a\\S\\b~second line||||||\r";

    #[test]
    fn parses_fields_and_paths() {
        let m = parse(ORU).unwrap();
        assert_eq!(m.len(), 7);
        assert_eq!(m.get("MSH-1").as_deref(), Some("|"));
        assert_eq!(m.get("MSH-2").as_deref(), Some("^~\\&"));
        assert_eq!(m.get("MSH-3").as_deref(), Some("LIS"));
        assert_eq!(m.get("MSH-9-2").as_deref(), Some("R01"));
        assert_eq!(m.get("PID-5-1").as_deref(), Some("张"));
        assert_eq!(m.get("PID-3(1)-1").as_deref(), Some("MR1"));
        assert_eq!(m.get_rep("PID-3", 1, 5, 0).as_deref(), Some("MR"));
        assert_eq!(m.get("OBX(1)-5-1").as_deref(), Some("a^b"));
        assert_eq!(m.get("OBX(1)-5").as_deref(), Some("a^b~second line"));
        assert_eq!(m.get("OBX(2)-5"), None);
        assert_eq!(m.get("ZZZ-1"), None);
        assert_eq!(m.get("PID-x"), None);
        assert_eq!(m.segments_named("OBX").count(), 2);
        assert_eq!(m.segment("OBR").unwrap().index(), 2);
    }

    #[test]
    fn null_and_empty_differ() {
        let m = parse("MSH|^~\\&|A||||||ADT^A08|1|P|2.5\rPID|1||X||\"\"|").unwrap();
        assert!(m.is_null("PID-5"));
        assert_eq!(m.get("PID-5"), None);
        assert!(!m.is_null("PID-4"));
        assert_eq!(m.get_raw("PID-4"), Some(""));
        assert_eq!(m.get_raw("PID-5"), Some("\"\""));
    }

    #[test]
    fn unescapes() {
        let d = Delimiters::default();
        assert_eq!(
            unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", &d),
            "a|b^c&d~e\\f"
        );
        assert_eq!(unescape("l1\\.br\\l2", &d), "l1\nl2");
        assert_eq!(unescape("\\XE4B8AD\\", &d), "中");
        assert_eq!(unescape("\\XFF\\", &d), "\\XFF\\");
        assert_eq!(unescape("\\H\\bold\\N\\", &d), "\\H\\bold\\N\\");
        assert_eq!(unescape("trailing\\", &d), "trailing\\");
        assert_eq!(unescape("C:\\dir", &d), "C:\\dir");
    }

    #[test]
    fn header_and_errors() {
        let m = parse(ORU).unwrap();
        let h = m.header().unwrap();
        assert_eq!(h.message_code, "ORU");
        assert_eq!(h.trigger_event, "R01");
        assert_eq!(h.structure, "ORU_R01");
        assert_eq!(h.control_id, "C1");
        assert_eq!(h.version, "2.5");
        let e = parse("MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5")
            .unwrap()
            .header();
        assert_eq!(e.unwrap_err().field, "MSH-10");
        let e = parse("MSH|^~\\&|A|B|C|D|20240101|||1|P|2.5")
            .unwrap()
            .header();
        assert_eq!(e.unwrap_err().field, "MSH-9");
        let e = parse("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|3.0")
            .unwrap()
            .header();
        let e = e.unwrap_err();
        assert_eq!((e.field.as_str(), e.code.number()), ("MSH-12", 203));
        let h = parse("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P")
            .unwrap()
            .header()
            .unwrap();
        assert_eq!(h.version, "2.5");
    }

    #[test]
    fn structure_errors() {
        assert_eq!(parse("").unwrap_err().field, "MSH");
        assert_eq!(parse("PID|1").unwrap_err().field, "MSH");
        assert_eq!(parse("MSH").unwrap_err().field, "MSH-1");
        assert_eq!(parse("MSH|^~|").unwrap_err().field, "MSH-2");
        assert_eq!(parse("MSH|^~\\^|").unwrap_err().field, "MSH-2");
        let e = parse("MSH|^~\\&|\rpid|1").unwrap_err();
        assert_eq!((e.field.as_str(), e.segment_index), ("segment 2", Some(1)));
        // v2.7 truncation character, LF and CRLF separators, blank lines.
        let m = parse("MSH|^~\\&#|A\n\nPID|1|\\P\\\r\nPV1|1|I\r\n").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("PID-2").as_deref(), Some("#"));
        assert_eq!(m.delimiters().truncation, Some(b'#'));
        // Other delimiters.
        let m = parse("MSH#!@$%#A#B\rPID#1##X!Y@Z$A%B").unwrap();
        assert_eq!(m.get("PID-3-2").as_deref(), Some("Y"));
        assert_eq!(m.get("PID-3(1)-1-2").as_deref(), Some("B"));
        assert_eq!(m.get("PID-3(1)-1-1").as_deref(), Some("Z$A"));
        assert_eq!(m.get("MSH-3").as_deref(), Some("A"));
    }

    #[test]
    fn charsets() {
        let text =
            "MSH|^~\\&|HIS|县医院|||20240101||ADT^A01|1|P|2.5||||||GB 18030-2000\rPID|1||X||张伟";
        let bytes = encode(text, "GB 18030-2000").unwrap();
        assert_ne!(bytes, text.as_bytes());
        let m = decode(&bytes).unwrap();
        assert_eq!(m.get("PID-5").as_deref(), Some("张伟"));
        assert_eq!(m.get("MSH-4").as_deref(), Some("县医院"));
        // The same bytes declared UTF-8.
        let mut declared_utf8 = bytes.clone();
        let pos = declared_utf8
            .windows(13)
            .position(|w| w == b"GB 18030-2000")
            .unwrap();
        declared_utf8.splice(pos..pos + 13, b"UTF-8".iter().copied());
        let e = decode(&declared_utf8).unwrap_err();
        assert_eq!(e.field, "MSH-18");
        assert!(e.reason.contains("not valid"), "{e}");
        assert!(e.reason.contains("offset"), "{e}");
        // UTF-8 with a BOM.
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice("MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1||X||王".as_bytes());
        assert_eq!(decode(&bom).unwrap().get("PID-5").as_deref(), Some("王"));
        // ASCII rejects high bytes; Latin-1 maps them.
        let e = decode(b"MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||ASCII\rPID|1||\xE9").unwrap_err();
        assert_eq!(e.field, "MSH-18");
        let m = decode(b"MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||\xE9").unwrap();
        assert_eq!(m.get("PID-3").as_deref(), Some("é"));
        let e = decode(b"MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||EBCDIC\r").unwrap_err();
        assert_eq!((e.field.as_str(), e.code.number()), ("MSH-18", 103));
        assert!(encode("张", "ASCII").is_err());
        assert!(encode("é", "8859/1").is_ok());
    }

    #[test]
    fn gbk_trail_byte_that_is_a_pipe() {
        // 亅 (U+4E85) in GBK is 0x81 0x7C: its trail byte is `|`.
        let text = "MSH|^~\\&|HIS|亅|||20240101||ADT^A01|1|P|2.5||||||GBK\rPID|1||X||亅";
        let bytes = encode(text, "GBK").unwrap();
        assert!(bytes.windows(2).any(|w| w == [0x81, 0x7C]));
        let m = decode(&bytes).unwrap();
        assert_eq!(m.get("MSH-4").as_deref(), Some("亅"));
        assert_eq!(m.header().unwrap().charset, "GBK");
    }

    #[test]
    fn extraction() {
        let m = parse(ORU).unwrap();
        let p = patient(&m).unwrap();
        assert_eq!(p.name.as_deref(), Some("张伟"));
        assert_eq!(p.id_number(), Some("110101199003074514"));
        assert_eq!(p.record_number(), Some("MR1"));
        assert_eq!(p.birth_date.as_deref(), Some("19900307"));
        let r = reports(&m).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].notes, vec!["order note"]);
        assert_eq!(r[0].observations[0].notes, vec!["obx note"]);
        assert_eq!(r[0].observations[0].value.as_deref(), Some("135"));
        assert_eq!(
            r[0].observations[1].value.as_deref(),
            Some("a^b\nsecond line")
        );
        assert_eq!(r[0].observations[1].status, "F");
    }

    #[test]
    fn names_and_addresses() {
        assert_eq!(
            join_name(Some("张".into()), Some("伟".into())).as_deref(),
            Some("张伟")
        );
        assert_eq!(
            join_name(Some("Smith".into()), Some("John".into())).as_deref(),
            Some("Smith John")
        );
        let d = Delimiters::default();
        let a = Element::field("东城区景山前街4号^^北京市^北京市^100009^CHN", d);
        assert_eq!(address(a).as_deref(), Some("北京市东城区景山前街4号"));
        let a = Element::field("北京市东城区景山前街4号^^^北京市", d);
        assert_eq!(address(a).as_deref(), Some("北京市东城区景山前街4号"));
        let a = Element::field("1 Main St^^Springfield^IL", d);
        assert_eq!(address(a).as_deref(), Some("1 Main St, Springfield, IL"));
        assert!(valid_yyyymmdd("20000229"));
        assert!(!valid_yyyymmdd("19000229"));
        assert!(!valid_yyyymmdd("19901332"));
        assert!(looks_like_id_number("11010119900307451X"));
        assert!(looks_like_id_number("110101900307451"));
        assert!(!looks_like_id_number("1101011990030745"));
    }

    #[test]
    fn ack_layout() {
        let h = parse(ORU).unwrap().header().unwrap();
        let err = Hl7Error::new(
            "PID-7",
            "birth date \"x\" is not a date",
            ErrorCode::DataType,
        );
        let err = Hl7Error {
            segment_sequence: Some(1),
            ..err
        };
        let a = ack(
            &h,
            AckCode::AE,
            None,
            Some(&err),
            "20240301120001+0800",
            "A1",
        );
        let m = parse(&a).unwrap();
        assert_eq!(m.get("MSH-3").as_deref(), Some("HIS"));
        assert_eq!(m.get("MSH-5").as_deref(), Some("LIS"));
        assert_eq!(m.get("MSH-9").as_deref(), Some("ACK^R01^ACK"));
        assert_eq!(m.get("MSH-10").as_deref(), Some("A1"));
        assert_eq!(m.get("MSH-18").as_deref(), Some("UNICODE UTF-8"));
        assert_eq!(m.get("MSA-1").as_deref(), Some("AE"));
        assert_eq!(m.get("MSA-2").as_deref(), Some("C1"));
        assert_eq!(m.get("ERR-2").as_deref(), Some("PID^1^7"));
        assert_eq!(
            m.get("ERR-3").as_deref(),
            Some("102^Data type error^HL70357")
        );
        assert_eq!(m.get("ERR-4").as_deref(), Some("E"));
        assert_eq!(
            m.get("ERR-8").as_deref(),
            Some("birth date \"x\" is not a date")
        );

        let garbage = b"MSH|^~\\&|LIS|LAB|HIS|HOSP|2024||ORU^R01|XYZ|P|2.4\rPID|\xFF\xFE";
        let e = decode(garbage).unwrap_err();
        let a = ack_for_unparseable(garbage, AckCode::AR, &e, "20240301", "A2");
        let m = parse(&a).unwrap();
        assert_eq!(m.get("MSA-1").as_deref(), Some("AR"));
        assert_eq!(m.get("MSA-2").as_deref(), Some("XYZ"));
        assert_eq!(m.get("MSH-5").as_deref(), Some("LIS"));
        assert_eq!(m.get("MSH-9-2").as_deref(), Some("R01"));
        assert_eq!(m.get("MSH-12").as_deref(), Some("2.4"));
        let a = ack_for_unparseable(b"\x00\x01", AckCode::AR, &e, "20240301", "A3");
        assert!(parse(&a).is_ok());
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('|'),
                Just('^'),
                Just('~'),
                Just('\\'),
                Just('&'),
                Just('\n'),
                Just('\r'),
                Just('张'),
                Just('伟'),
                Just('X'),
                Just('"'),
                Just('.'),
                any::<char>(),
            ],
            0..20,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn token() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("MSH|^~\\&|"),
            Just("PID|"),
            Just("PV1|"),
            Just("ORC|"),
            Just("OBR|"),
            Just("OBX|"),
            Just("NTE|"),
            Just("|"),
            Just("^"),
            Just("~"),
            Just("\\"),
            Just("&"),
            Just("\r"),
            Just("\n"),
            Just("\"\""),
            Just("NM"),
            Just("ST"),
            Just("TX"),
            Just("CE"),
            Just("SN"),
            Just("1"),
            Just("19900307"),
            Just("1990"),
            Just("张"),
            Just("X"),
            Just("\\X41\\"),
            Just("\\XE4B8\\"),
            Just("\\.br\\"),
            Just("a b"),
            Just("110101199003074514"),
            Just("NNCHN"),
            Just("MR"),
            Just("-1.5"),
            Just("."),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s).map(|m| (m.header(), patient(&m), reports(&m), visit(&m)));
            let with_msh = format!("MSH|^~\\&|{s}");
            if let Ok(m) = parse(&with_msh) {
                let _ = (m.header(), patient(&m), reports(&m), visit(&m), m.get("PID-3-1"));
            }
        }

        #[test]
        fn structured_input_never_panics(tokens in proptest::collection::vec(token(), 0..80)) {
            let body: String = tokens.concat();
            for text in [format!("MSH|^~\\&|A||||||ORU^R01|1|P|2.5\r{body}"), body.clone()] {
                match parse(&text) {
                    Ok(m) => {
                        let _ = (m.header(), patient(&m), reports(&m), visit(&m));
                        for path in ["PID-3", "PID-3(1)-4-1", "OBX(1)-5-2-1", "MSH-2", "OBR-4-2"] {
                            let _ = (m.get(path), m.get_raw(path), m.is_null(path));
                        }
                        for seg in m.segments() {
                            for n in 0..seg.field_count() + 2 {
                                let f = seg.field(n);
                                let _ = (f.text(), f.component(2).subcomponent(2).text());
                                for r in f.repetitions() {
                                    let _ = r.text();
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let a = ack_for_unparseable(text.as_bytes(), AckCode::AR, &e, "20240101", "X");
                        prop_assert!(parse(&a).is_ok());
                    }
                }
                let gb = encode(&text, "GB18030").unwrap();
                let _ = decode(&gb);
            }
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&b);
            let mut with_msh = b"MSH|^~\\&|".to_vec();
            with_msh.extend_from_slice(&b);
            if let Ok(m) = decode(&with_msh) {
                let _ = (m.header(), patient(&m), reports(&m), visit(&m));
            }
            let _ = sniff_header(&with_msh);
        }

        #[test]
        fn build_parse_roundtrip(a in value_strategy(), b in value_strategy(), c in value_strategy()) {
            prop_assume!(![&a, &b, &c].iter().any(|v| v.as_str() == "\"\""));
            let msg = MessageBuilder::new()
                .segment(SegmentBuilder::new("MSH").field(3, &a).components(9, &["ADT", "A01"]).field(10, "1"))
                .segment(SegmentBuilder::new("PID").field(3, &a).components(5, &[&b, &c]).repetitions(11, &[&[&a], &[&b, &c]]))
                .build();
            let m = parse(&msg).unwrap();
            let get = |p: &str| m.get(p).map(Cow::into_owned).unwrap_or_default();
            prop_assert_eq!(get("MSH-3"), a.clone());
            prop_assert_eq!(get("PID-3"), a.clone());
            prop_assert_eq!(get("PID-5-1"), b.clone());
            prop_assert_eq!(get("PID-5-2"), c.clone());
            prop_assert_eq!(get("PID-11(0)-1"), a.clone());
            prop_assert_eq!(get("PID-11(1)-1"), b.clone());
            prop_assert_eq!(get("PID-11(1)-2"), c.clone());
        }
    }
}
