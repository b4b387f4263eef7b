//! The envelope around every snapshot and delta body: magic, format
//! version, length and checksum, checked before any body is read; and the
//! readers of values at the start of a body.

use super::*;

/// `body` encoded, behind a header: `magic`, the format version, two
/// reserved bytes, the body's length and its checksum.
/// The body is written where it stays, behind room for the header
/// (`size_hint`: about how many bytes it takes): a snapshot of a million
/// targets is megabytes, and every copy of it is wasm memory kept for good.
pub(super) fn envelope(magic: &[u8; 8], format: u16, body: &impl Serialize, size_hint: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN.saturating_add(size_hint));
    bytes.resize(HEADER_LEN, 0);
    // Encoding plain owned data into a Vec cannot fail; should postcard
    // ever report an error, the bytes are an empty body, which no decoder
    // accepts.
    let mut bytes = postcard::to_extend(body, bytes).unwrap_or_else(|_| vec![0; HEADER_LEN]);
    seal_header(magic, format, &mut bytes);
    bytes
}

/// [`envelope`] of a body that holds one large byte string (an entity's
/// rows, which `rows` finds in it), written around the rows' own blocks:
/// the rows are held once, never copied into one buffer (a million
/// targets' rows are megabytes, and wasm memory keeps its peak). The bytes
/// are those [`envelope`] writes: the body is encoded without the rows,
/// and again with one byte of rows, and where the two differ is where the
/// rows go. Should that not hold (the rows are not there, or not where
/// they differ), [`envelope`] writes it.
pub(super) fn envelope_around<B: Serialize>(
    magic: &[u8; 8],
    format: u16,
    body: &mut B,
    rows: impl Fn(&mut B) -> Option<&mut Blocks>,
    size_hint: usize,
) -> Blocks {
    let Some(big) = rows(body).map(std::mem::take) else { return envelope(magic, format, body, size_hint).into() };
    // `to_extend`, as `envelope` encodes: one instance of the body's encoder.
    let without = postcard::to_extend(body, Vec::new());
    if let Some(slot) = rows(body) {
        slot.push(vec![0]);
    }
    let with_one = postcard::to_extend(body, Vec::new());
    if let Some(slot) = rows(body) {
        *slot = Blocks::default();
    }
    // The rows' length is a varint: 0 without them, 1 then the byte 0 with one.
    let at = match (&without, &with_one) {
        (Ok(a), Ok(b)) => a.iter().zip(b).position(|(x, y)| x != y).filter(|&at| {
            let (a_rest, b_rest) = (a.get(at..).unwrap_or_default(), b.get(at..).unwrap_or_default());
            a_rest.first() == Some(&0) && b_rest.get(..2) == Some(&[1, 0][..]) && a_rest.get(1..) == b_rest.get(2..)
        }),
        _ => None,
    };
    let (Some(at), Ok(mut without)) = (at, without) else {
        if let Some(slot) = rows(body) {
            *slot = big;
        }
        return envelope(magic, format, body, size_hint).into();
    };
    // The body after the rows, then the body before them behind room for
    // the header, and the rows' length.
    let after = without.split_off(at.saturating_add(1));
    without.truncate(at);
    let mut length = [0u8; 10];
    let length = postcard::to_slice(&(big.len() as u64), &mut length).map(|l| l.to_vec()).unwrap_or_default();
    let mut front = Vec::with_capacity(HEADER_LEN.saturating_add(without.len()).saturating_add(length.len()));
    front.resize(HEADER_LEN, 0);
    front.extend_from_slice(&without);
    front.extend_from_slice(&length);
    let body_len = front.len().saturating_sub(HEADER_LEN).saturating_add(big.len()).saturating_add(after.len());
    let crc = {
        let body = std::iter::once(front.get(HEADER_LEN..).unwrap_or_default()).chain(big.pieces()).chain(std::iter::once(&after[..]));
        checksum_of(magic, format, body)
    };
    write_header(magic, format, body_len, crc, &mut front);
    let mut whole = Blocks::from(front);
    whole.append(big);
    whole.push(after);
    whole
}

/// Writes the header in front of an encoded body: its length and checksum.
fn seal_header(magic: &[u8; 8], format: u16, bytes: &mut [u8]) {
    let at = HEADER_LEN.min(bytes.len());
    let (header, body) = bytes.split_at_mut(at);
    let crc = checksum(magic, format, body);
    write_header(magic, format, body.len(), crc, header);
}

/// Writes a header: `magic`, the format version, two reserved bytes, the
/// body's length and its checksum.
fn write_header(magic: &[u8; 8], format: u16, body_len: usize, crc: u32, header: &mut [u8]) {
    let length = u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes();
    let fields: [&[u8]; 5] = [magic, &format.to_le_bytes(), &0u16.to_le_bytes(), &length, &crc.to_le_bytes()];
    for (to, from) in header.iter_mut().zip(fields.into_iter().flatten()) {
        *to = *from;
    }
}

/// An envelope's format version, body and checksum, once its header is
/// checked: `what` ("snapshot") names the kind of bytes in errors.
pub(super) fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], newest: u16, what: &str) -> Result<(u16, &'a [u8], u32), Error> {
    let (header, body) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(|| Error::snapshot(format!("{} bytes is too short for a {what} header", bytes.len())))?;
    let field = |at: usize| -> [u8; 4] {
        let mut out = [0u8; 4];
        for (i, b) in out.iter_mut().enumerate() {
            *b = header.get(at.saturating_add(i)).copied().unwrap_or(0);
        }
        out
    };
    if !header.starts_with(magic) {
        return Err(Error::snapshot(format!("these bytes are not an orchestrator-engine {what} (bad magic)")));
    }
    let [v0, v1, r0, r1] = field(8);
    let version = u16::from_le_bytes([v0, v1]);
    if version == 0 || version > newest {
        return Err(Error::snapshot(format!(
            "format version {version} is not one this engine reads (1 to {newest}); \
             restore it with the newer orchestrator-engine that wrote it"
        )));
    }
    if u16::from_le_bytes([r0, r1]) != 0 {
        return Err(Error::snapshot("reserved header bytes are not zero"));
    }
    let length = u32::from_le_bytes(field(12));
    if usize::try_from(length).ok() != Some(body.len()) {
        return Err(Error::snapshot(format!("the header announces {length} body bytes but {} follow (truncated or padded)", body.len())));
    }
    let crc = u32::from_le_bytes(field(16));
    if crc != checksum(magic, version, body) {
        return Err(Error::snapshot(format!("checksum mismatch: the {what} is corrupt")));
    }
    Ok((version, body, crc))
}

/// The envelope's CRC-32 (IEEE): of the body in snapshot formats 1 to 3;
/// from snapshot format 4, and in every delta format, of the format
/// version and reserved bytes too, so that a flipped version is caught as
/// corruption rather than read with another format's decoder.
pub(super) fn checksum(magic: &[u8; 8], format: u16, body: &[u8]) -> u32 {
    checksum_of(magic, format, std::iter::once(body))
}

/// [`checksum`] of a body in pieces.
fn checksum_of<'a>(magic: &[u8; 8], format: u16, body: impl Iterator<Item = &'a [u8]>) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if magic != MAGIC || format >= 4 {
        hasher.update(&format.to_le_bytes());
        hasher.update(&[0, 0]);
    }
    body.for_each(|piece| hasher.update(piece));
    hasher.finalize()
}

/// A value at the start of `bytes`, and the bytes after it.
pub(super) fn take<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), Error> {
    postcard::take_from_bytes(bytes).map_err(|e| Error::snapshot(format!("undecodable body: {e}")))
}

/// A value that is all of `bytes`.
pub(super) fn parse_all<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    let (value, rest) = take(bytes)?;
    end(rest, value)
}

/// `value`, if nothing is left after it.
pub(super) fn end<T>(rest: &[u8], value: T) -> Result<T, Error> {
    if !rest.is_empty() {
        return Err(Error::snapshot("trailing bytes after the body"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Body = (String, Blocks, Vec<u32>, &'static str);

    fn rows(body: &mut Body) -> Option<&mut Blocks> {
        Some(&mut body.1)
    }

    /// `n` bytes of rows, written as the rows are: a few at a time, in
    /// blocks.
    fn rows_of(n: usize) -> Blocks {
        let mut blocks = Blocks::default();
        (0..n).for_each(|i| blocks.room(16).push((i % 251) as u8));
        blocks
    }

    /// The same bytes as `envelope`, for rows of every length a varint
    /// writes differently, and of one block and several; the rows' blocks
    /// are in the envelope as they were written, not copied.
    #[test]
    fn around_the_rows_as_envelope_writes_them() {
        for n in [0usize, 1, 127, 128, 300, 16_384, 100_000, 3 * blocks::BLOCK + 5] {
            let joined = rows_of(n).into_vec();
            let plain: Body = ("entity".to_owned(), Blocks::from(joined), vec![1, 300, 70_000], "after the rows");
            let expected = envelope(b"TESTMAGC", 3, &plain, n);
            let mut around: Body = ("entity".into(), rows_of(n), vec![1, 300, 70_000], "after the rows");
            let written: Vec<*const u8> = around.1.pieces().map(<[u8]>::as_ptr).collect();
            let bytes = envelope_around(b"TESTMAGC", 3, &mut around, rows, n);
            let held: Vec<*const u8> = bytes.pieces().map(<[u8]>::as_ptr).collect();
            assert!(written.iter().all(|block| held.contains(block)), "{n} bytes of rows: their blocks are held as they were");
            assert_eq!(bytes.len(), expected.len(), "{n} bytes of rows");
            assert_eq!(bytes.into_vec(), expected, "{n} bytes of rows");
            assert!(open(&expected, b"TESTMAGC", 3, "test").is_ok());
        }
    }

    /// A body without the rows it names is written as `envelope` writes it.
    #[test]
    fn without_rows_as_envelope() {
        let mut body: Body = ("e".into(), Blocks::from(vec![7; 10]), vec![], "");
        let expected = envelope(b"TESTMAGC", 1, &body, 0);
        assert_eq!(envelope_around(b"TESTMAGC", 1, &mut body, |_: &mut Body| None, 0).into_vec(), expected);
    }
}
