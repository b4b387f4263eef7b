//! Equality of short texts for the step's per-target comparisons (a name,
//! a group, a version, a message). Wasm has no vectorised `memcmp`: the one
//! a wasm build links compares a byte at a time, a call per comparison.
//! Eight bytes at a time, inline, it is about twice as fast for the
//! 6-to-20-byte texts of a fleet; natively `==` is already vectorised.

/// Whether `a` and `b` hold the same bytes.
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        by_words(a, b)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        a == b
    }
}

/// [`same`] as the wasm build does it, eight bytes at a time (loops, not
/// iterator adapters: the size-optimised build calls those, per byte).
#[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
#[inline(always)]
fn by_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0usize;
    while let (Some(p), Some(q)) = (a.get(i..).and_then(<[u8]>::first_chunk::<8>), b.get(i..).and_then(<[u8]>::first_chunk::<8>)) {
        if u64::from_ne_bytes(*p) != u64::from_ne_bytes(*q) {
            return false;
        }
        i = i.saturating_add(8);
    }
    while let (Some(p), Some(q)) = (a.get(i), b.get(i)) {
        if p != q {
            return false;
        }
        i = i.saturating_add(1);
    }
    true
}

/// Whether two strings are the same text; the very same slice (as every
/// target of a packed report that shares a version or a message holds) is
/// answered without reading it.
#[inline(always)]
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || same(a.as_bytes(), b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_as_bytes_are() {
        let texts = ["", "a", "zone-1", "zone-2", "clientTarget1234", "clientTarget1235", "running successfully", "running successfullz"];
        for a in texts {
            for b in texts {
                assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a:?} and {b:?}");
                assert_eq!(by_words(a.as_bytes(), b.as_bytes()), a == b, "{a:?} and {b:?} by words");
                assert_eq!(same_str(a, b), a == b, "{a:?} and {b:?}");
            }
        }
        let owned = String::from("running successfully");
        assert!(same_str(&owned, "running successfully"));
        assert!(!same_str(&owned[..7], &owned[..8]));
    }
}
