//! Rows in PostgreSQL's binary `COPY` format, for bulk inserts (`COPY … FROM STDIN WITH
//! (FORMAT binary)`): one statement streams any number of rows, and the server parses no text.
//!
//! Every value goes over the wire exactly as a bound parameter of the same Rust type does
//! (sqlx sends parameters in the binary format too): text as its UTF-8 bytes, a UUID as its 16
//! bytes, a time as whole microseconds since 2000-01-01 UTC, a float as its IEEE 754 bits.
//! Nothing is escaped, so tabs, newlines, backslashes and quotes in text arrive unchanged.
//!
//! <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use crate::{Result, StoreError};

/// Signature, flags (no OIDs) and header extension length of the binary format.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// PostgreSQL's epoch of times (2000-01-01 00:00).
const PG_EPOCH: PrimitiveDateTime = time::macros::datetime!(2000-01-01 00:00);

/// A buffer of rows in the binary format; [`CopyRows::take`] hands the bytes to send so far.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
}

impl CopyRows {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(HEADER);
        CopyRows { buf }
    }

    /// Bytes buffered so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes buffered so far (the buffer starts again empty, keeping its capacity).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let cap = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(cap))
    }

    /// Ends the data (the trailer) and returns the remaining bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }

    /// Starts a row of `fields` values.
    pub(crate) fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn value(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        let len = i32::try_from(bytes.len())
            .map_err(|_| encode_error(format!("value of {} bytes is too long", bytes.len())))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        Ok(self)
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub(crate) fn uuid(&mut self, v: Uuid) -> Result<&mut Self> {
        self.value(v.as_bytes())
    }

    pub(crate) fn opt_uuid(&mut self, v: Option<Uuid>) -> Result<&mut Self> {
        match v {
            Some(v) => self.uuid(v),
            None => Ok(self.null()),
        }
    }

    pub(crate) fn text(&mut self, v: &str) -> Result<&mut Self> {
        self.value(v.as_bytes())
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> Result<&mut Self> {
        match v {
            Some(v) => self.text(v),
            None => Ok(self.null()),
        }
    }

    pub(crate) fn bool(&mut self, v: bool) -> Result<&mut Self> {
        self.value(&[u8::from(v)])
    }

    pub(crate) fn i64(&mut self, v: i64) -> Result<&mut Self> {
        self.value(&v.to_be_bytes())
    }

    pub(crate) fn opt_f64(&mut self, v: Option<f64>) -> Result<&mut Self> {
        match v {
            Some(v) => self.value(&v.to_bits().to_be_bytes()),
            None => Ok(self.null()),
        }
    }

    /// A `TIMESTAMPTZ`: whole microseconds since 2000-01-01 UTC, as sqlx binds it.
    pub(crate) fn ts(&mut self, v: OffsetDateTime) -> Result<&mut Self> {
        let utc = v.to_offset(UtcOffset::UTC);
        let micros = i64::try_from(
            (PrimitiveDateTime::new(utc.date(), utc.time()) - PG_EPOCH).whole_microseconds(),
        )
        .map_err(|_| encode_error(format!("time {v} is out of range")))?;
        self.value(&micros.to_be_bytes())
    }

    pub(crate) fn opt_ts(&mut self, v: Option<OffsetDateTime>) -> Result<&mut Self> {
        match v {
            Some(v) => self.ts(v),
            None => Ok(self.null()),
        }
    }
}

/// How much encoded data to gather before sending it: the server works on one part while
/// the next is encoded.
const PART: usize = 1 << 20;

/// Runs `statement` (a `COPY table (columns) FROM STDIN WITH (FORMAT binary)`) on a
/// PostgreSQL connection with the rows `encode` writes, one call per element of `rows`;
/// returns the number of rows stored. An error of `encode` aborts the `COPY` (the
/// transaction is then failed, as after any failed statement).
pub(crate) async fn copy_in<T>(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    rows: impl IntoIterator<Item = T>,
    mut encode: impl FnMut(&mut CopyRows, T) -> Result<()>,
) -> Result<u64> {
    crate::counted();
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut data = CopyRows::new();
    for row in rows {
        if let Err(e) = encode(&mut data, row) {
            copy.abort(e.to_string()).await?;
            return Err(e);
        }
        if data.len() >= PART {
            copy.send(data.take()).await?;
        }
    }
    copy.send(data.finish()).await?;
    Ok(copy.finish().await?)
}

fn encode_error(msg: String) -> StoreError {
    StoreError::Database(sqlx::Error::Encode(msg.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_as_postgres_binary() {
        let mut r = CopyRows::new();
        r.row(3);
        r.text("a\tb").unwrap();
        r.opt_f64(None).unwrap();
        r.ts(time::macros::datetime!(2000-01-01 08:00:01.000_000_9 +08:00))
            .unwrap();
        let b = r.finish();
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&[0, 3, 0, 0, 0, 3, b'a', b'\t', b'b', 0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0, 0, 0, 8]);
        // 1 s and 0.9 µs after the epoch (UTC), truncated to whole microseconds as sqlx does.
        want.extend_from_slice(&1_000_000i64.to_be_bytes());
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(b, want);
    }
}
