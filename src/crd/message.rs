//! The bound on every message the operator writes: condition messages and `status.input` in
//! status, and Event notes. events.k8s.io refuses a note over 1 kB, and status must stay small.

/// Longest message in bytes; the CRD declares it as `maxLength` (characters, so never less).
pub const MAX_MESSAGE_BYTES: usize = 1024;

const ELLIPSIS: &str = "…";

/// `message` as is when it fits, else cut at a character boundary and ended with "…", in at
/// most [`MAX_MESSAGE_BYTES`] bytes.
pub fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES - ELLIPSIS.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_at_and_over_the_limit() {
        let exact = "a".repeat(MAX_MESSAGE_BYTES);
        assert_eq!(bounded(&exact), exact);
        let over = "a".repeat(MAX_MESSAGE_BYTES + 1);
        let cut = bounded(&over);
        assert_eq!(cut.len(), MAX_MESSAGE_BYTES);
        assert!(cut.ends_with(ELLIPSIS));
        // Multi-byte characters are never split.
        let wide = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = bounded(&wide);
        assert!(cut.len() <= MAX_MESSAGE_BYTES && cut.ends_with(ELLIPSIS));
        assert!(cut.trim_end_matches(ELLIPSIS).chars().all(|c| c == 'é'));
    }
}
