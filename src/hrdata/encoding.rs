//! Recognising files that are not UTF-8, so that the user gets one clear error with the fix
//! instead of one error per record.
//!
//! Encoding problems count as invalid data (exit status 1), not as I/O errors: the file was read,
//! its content is wrong.

/// How many leading bytes are inspected for a byte-order mark and NUL bytes.
pub(crate) const SNIFF_LEN: usize = 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const FIX: &str = "save it as \"CSV UTF-8 (Comma delimited)\" and try again";

/// Looks at the first bytes of a source. Returns the length of a UTF-8 byte-order mark to strip
/// (0 or 3), or the detail of an encoding error.
pub(crate) fn sniff(prefix: &[u8]) -> Result<usize, String> {
    // UTF-32 marks first: the UTF-32 LE mark starts with the UTF-16 LE one.
    if prefix.starts_with(b"\xFF\xFE\x00\x00") || prefix.starts_with(b"\x00\x00\xFE\xFF") {
        return Err(format!("is UTF-32 encoded; {FIX}"));
    }
    if prefix.starts_with(b"\xFF\xFE") {
        return Err(format!(
            "is UTF-16 encoded (little-endian, with a byte-order mark); {FIX}"
        ));
    }
    if prefix.starts_with(b"\xFE\xFF") {
        return Err(format!(
            "is UTF-16 encoded (big-endian, with a byte-order mark); {FIX}"
        ));
    }
    if prefix.contains(&0) {
        // Text saved as UTF-16 without a mark has a NUL in every other byte: at odd offsets for
        // little-endian ASCII text, at even offsets for big-endian.
        let (even, odd) = prefix.iter().enumerate().filter(|(_, b)| **b == 0).fold(
            (0usize, 0usize),
            |(e, o), (i, _)| {
                if i % 2 == 0 { (e + 1, o) } else { (e, o + 1) }
            },
        );
        return Err(if odd > 0 && even == 0 {
            format!("is UTF-16 encoded (little-endian, without a byte-order mark); {FIX}")
        } else if even > 0 && odd == 0 {
            format!("is UTF-16 encoded (big-endian, without a byte-order mark); {FIX}")
        } else {
            format!(
                "contains NUL bytes, so it is not UTF-8 text (it may be UTF-16 or a binary file); {FIX}"
            )
        });
    }
    Ok(if prefix.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    })
}

/// Detail for bytes that are not UTF-8 (used with the line of the first bad byte).
pub(crate) fn invalid_utf8_detail() -> String {
    // Excel's plain "CSV (Comma delimited)" writes the Windows code page, which is by far the most
    // common source of such bytes.
    format!("is not valid UTF-8 (it looks like Windows-1252/Latin-1); {FIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms() {
        assert_eq!(sniff(b"\xEF\xBB\xBFa,b\n"), Ok(3));
        assert_eq!(sniff(b"a,b\n"), Ok(0));
        assert_eq!(sniff(b""), Ok(0));
        assert!(sniff(b"\xFF\xFEa\x00").unwrap_err().contains("UTF-16"));
        assert!(sniff(b"\xFE\xFF\x00a").unwrap_err().contains("big-endian"));
        assert!(
            sniff(b"\xFF\xFE\x00\x00a\x00\x00\x00")
                .unwrap_err()
                .contains("UTF-32")
        );
    }

    #[test]
    fn utf16_without_bom() {
        let le: Vec<u8> = "Email,Date\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let be: Vec<u8> = "Email,Date\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert!(sniff(&le).unwrap_err().contains("little-endian, without"));
        assert!(sniff(&be).unwrap_err().contains("big-endian, without"));
        assert!(sniff(b"\x00\x00ab").unwrap_err().contains("NUL"));
    }
}
