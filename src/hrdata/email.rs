//! Email address syntax.
//!
//! The rules are the `email_address` crate's RFC 5322 local-part and domain checks. Two
//! differences in how they are called, both for speed and strictness on millions of records:
//! - The address is split at the last `@` here: `EmailAddress::is_valid` copies the address into
//!   a new `String` and also accepts display-name forms like `Name <a@b.c>`, which are not an
//!   address.
//! - Plain ASCII addresses of the common shape are accepted by a byte-level check first; it
//!   accepts a subset of what the crate accepts (tested), and everything else goes to the crate.

use email_address::EmailAddress;

/// True if `value` is a bare, syntactically valid email address without any whitespace.
pub fn is_valid(value: &str) -> bool {
    is_valid_utf8(value.as_bytes())
}

/// [`is_valid`] of bytes known to be UTF-8 (anything else is not a valid address).
pub(crate) fn is_valid_utf8(value: &[u8]) -> bool {
    // The fast path accepts no whitespace, so the whitespace check is only needed after it.
    if is_common_ascii(value) {
        return true;
    }
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    if value.chars().any(char::is_whitespace) {
        return false;
    }
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            EmailAddress::is_valid_local_part(local) && EmailAddress::is_valid_domain(domain)
        }
        None => false,
    }
}

/// Byte classes for the fast path (a table: this runs for every record).
const ATEXT: u8 = 1; // RFC 5322 atext, ASCII only
const LABEL: u8 = 2; // letter, digit or hyphen
const ALNUM: u8 = 4; // letter or digit
const LOCAL: u8 = 8; // atext or `.`: may appear in a dot-atom local part
const DOMAIN: u8 = 16; // letter, digit, hyphen or `.`: may appear in a domain
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = ATEXT | LABEL | ALNUM | LOCAL | DOMAIN;
        }
        b += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] |= ATEXT | LOCAL;
        i += 1;
    }
    t[b'-' as usize] |= LABEL | DOMAIN;
    t[b'.' as usize] |= LOCAL | DOMAIN;
    t
};

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// The classes every byte of `bytes` has (no branch per byte: the loop runs on every record).
fn common_class(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0xFF, |all, &b| all & class(b))
}

/// `local@domain` with an ASCII dot-atom local part of at most 64 bytes and a domain of
/// letter/digit/hyphen labels (at most 63 bytes each, starting and ending with a letter or digit,
/// at most 254 bytes in all). Every such address is also valid for the `email_address` crate.
fn is_common_ascii(value: &[u8]) -> bool {
    // `@` is neither atext nor a label byte, so a second `@` fails the class check below and
    // such values go to the full check.
    let Some(at) = value.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&value[..at], &value[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.len() > 254 {
        return false;
    }
    if common_class(local) & LOCAL == 0 || common_class(domain) & DOMAIN == 0 {
        return false;
    }
    // Dot-atom: atext runs separated by single dots, no dot at either end.
    if local[0] == b'.' || local[local.len() - 1] == b'.' || has_empty_part(local) {
        return false;
    }
    // Labels: 1 to 63 bytes, starting and ending with a letter or digit (every byte is a
    // letter, digit, hyphen or dot by now).
    domain.split(|&b| b == b'.').all(|label| {
        matches!((label.first(), label.last()), (Some(&first), Some(&last))
            if label.len() <= 63 && class(first) & ALNUM != 0 && class(last) & ALNUM != 0)
    })
}

/// Whether two dots follow each other in `local`.
fn has_empty_part(local: &[u8]) -> bool {
    local.windows(2).any(|pair| pair == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid() {
        for s in [
            "sarad@contoso.com",
            "pilar.p@contoso.com",
            "first+tag@sub.contoso.co.uk",
            "o'brien@contoso.com",
            "\"quoted\"@contoso.com",
            "user@xn--bcher-kva.example",
            "a@b",
            "jos\u{e9}@contoso.com",
        ] {
            assert!(is_valid(s), "{s}");
        }
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "sarad",
            "sarad@",
            "@contoso.com",
            "sara d@contoso.com",
            " sarad@contoso.com",
            "sarad@contoso.com ",
            "sarad@contoso.com\t",
            "sarad@contoso..com",
            "sarad@@contoso.com",
            "sara,d@contoso.com",
            "sara..d@contoso.com",
            ".sarad@contoso.com",
            "Sara D <sarad@contoso.com>",
            "sarad@contoso.com;pilarp@contoso.com",
            "sarad@-contoso.com",
            "sarad@contoso-.com",
            "sarad\u{a0}@contoso.com",
        ] {
            assert!(!is_valid(s), "{s:?}");
        }
    }

    #[test]
    fn common_addresses_take_the_fast_path() {
        for s in [
            "sarad@contoso.com",
            "pilar.p+x@mail.contoso.co.uk",
            "a1@b-2.c",
        ] {
            assert!(is_common_ascii(s.as_bytes()), "{s}");
        }
        for s in [
            "a@b@c.com",
            "a..b@c.com",
            "a@c..com",
            "@c.com",
            "a@",
            "a.@c.com",
            "a@-c.com",
        ] {
            assert!(!is_common_ascii(s.as_bytes()), "{s}");
        }
    }

    /// The fast path as first written (one branchy pass), kept to check the table version
    /// against.
    fn is_common_ascii_reference(value: &[u8]) -> bool {
        let mut bytes = value.iter();
        let mut prev_dot = true;
        let mut local_len = 0usize;
        loop {
            match bytes.next() {
                Some(b'@') => break,
                Some(b'.') if !prev_dot => prev_dot = true,
                Some(&b) if class(b) & ATEXT != 0 => prev_dot = false,
                _ => return false,
            }
            local_len += 1;
        }
        if prev_dot || local_len > 64 {
            return false;
        }
        let domain = bytes.as_slice();
        if domain.len() > 254 {
            return false;
        }
        let (mut label_len, mut prev) = (0usize, b'.');
        for &b in domain {
            if b == b'.' {
                if label_len == 0 || class(prev) & ALNUM == 0 {
                    return false;
                }
                label_len = 0;
            } else {
                let c = class(b);
                if c & LABEL == 0 || (label_len == 0 && c & ALNUM == 0) || label_len == 63 {
                    return false;
                }
                label_len += 1;
            }
            prev = b;
        }
        label_len > 0 && class(prev) & ALNUM != 0
    }

    #[test]
    fn label_and_part_lengths_at_their_limits() {
        let label = |n| "a".repeat(n);
        for (value, want) in [
            (format!("{}@c.com", label(64)), true),
            (format!("{}@c.com", label(65)), false),
            (format!("a@{}.com", label(63)), true),
            (format!("a@{}.com", label(64)), false),
            // 254 bytes in all, and 255.
            (
                format!(
                    "a@{}",
                    [label(63), label(63), label(63), label(62)].join(".")
                ),
                true,
            ),
            (
                format!(
                    "a@{}",
                    [label(63), label(63), label(63), label(63)].join(".")
                ),
                false,
            ),
        ] {
            assert_eq!(is_common_ascii(value.as_bytes()), want, "{value}");
            assert_eq!(is_common_ascii_reference(value.as_bytes()), want, "{value}");
        }
    }

    proptest! {
        /// The table version accepts exactly what the first version did.
        #[test]
        fn fast_path_is_unchanged(s in "[a-z0-9.@!#'+_~(),\"\\[\\]-]{0,20}|[a-z.-]{0,70}@[a-z.@-]{0,70}|[a-z]{1,66}@[a-z-]{1,66}(\\.[a-z0-9-]{0,64}){0,4}") {
            prop_assert_eq!(is_common_ascii(s.as_bytes()), is_common_ascii_reference(s.as_bytes()), "{}", s);
        }

        /// The fast path never accepts what the crate rejects.
        #[test]
        fn fast_path_is_a_subset(s in "[a-z0-9.@!#'+_~(),\"\\[\\]-]{0,20}|[a-z]{1,70}@[a-z-]{1,70}(\\.[a-z]{1,4})?") {
            if is_common_ascii(s.as_bytes()) {
                let (local, domain) = s.rsplit_once('@').expect("fast path saw an @");
                prop_assert!(EmailAddress::is_valid_local_part(local), "{}", s);
                prop_assert!(EmailAddress::is_valid_domain(domain), "{}", s);
            }
        }
    }
}
