//! Email address syntax.
//!
//! Uses the `email_address` crate's RFC 5322 local-part and domain rules, but splits at the last
//! `@` itself: `EmailAddress::is_valid` copies the address into a new `String` (one allocation per
//! record) and also accepts display-name forms like `Name <a@b.c>`, which are not an address.

use email_address::EmailAddress;

/// True if `value` is a bare, syntactically valid email address without any whitespace.
pub fn is_valid(value: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        for s in [
            "sarad@contoso.com",
            "pilar.p@contoso.com",
            "first+tag@sub.contoso.co.uk",
            "o'brien@contoso.com",
            "\"quoted\"@contoso.com",
            "user@xn--bcher-kva.example",
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
            "Sara D <sarad@contoso.com>",
            "sarad@contoso.com;pilarp@contoso.com",
            "sarad@-contoso.com",
            "sarad\u{a0}@contoso.com",
        ] {
            assert!(!is_valid(s), "{s:?}");
        }
    }
}
