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
    let at = HEADER_LEN.min(bytes.len());
    let (header, body) = bytes.split_at_mut(at);
    let length = u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes();
    let crc = checksum(magic, format, body).to_le_bytes();
    let fields: [&[u8]; 5] = [magic, &format.to_le_bytes(), &0u16.to_le_bytes(), &length, &crc];
    for (to, from) in header.iter_mut().zip(fields.into_iter().flatten()) {
        *to = *from;
    }
    bytes
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
    if magic == MAGIC && format < 4 {
        return crc32fast::hash(body);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&format.to_le_bytes());
    hasher.update(&[0, 0]);
    hasher.update(body);
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
