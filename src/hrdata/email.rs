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
    // The fast path accepts no whitespace, so the whitespace check is only needed after it.
    if is_common_ascii(value.as_bytes()) {
        return true;
    }
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
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = ATEXT | LABEL | ALNUM;
        }
        b += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] |= ATEXT;
        i += 1;
    }
    t[b'-' as usize] |= LABEL;
    t
};

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// `local@domain` with an ASCII dot-atom local part of at most 64 bytes and a domain of
/// letter/digit/hyphen labels (at most 63 bytes each, starting and ending with a letter or digit,
/// at most 254 bytes in all). Every such address is also valid for the `email_address` crate.
fn is_common_ascii(value: &[u8]) -> bool {
    // One forward pass. `@` is not atext, so the first `@` ends the local part; a second `@`
    // is not a label byte, so such values go to the full check.
    let mut bytes = value.iter();
    // Dot-atom: atext runs separated by single dots, no dot at either end.
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
    // Labels: start and end with a letter or digit, hyphens inside, 1 to 63 bytes.
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

    proptest! {
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
