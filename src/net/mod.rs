//! The base layer for talking to the outside: where requests may go ([`egress`]), how much of
//! an answer is read ([`body`]), which values may become parts of URLs ([`url_parts`]), what
//! error text may say ([`scrub`]), and tunnels through the environment's proxy for what is not
//! HTTP ([`tunnel`]). The HTTP client that enforces them is
//! [`crate::http_client`].

pub mod body;
pub mod egress;
pub mod scrub;
pub mod tunnel;
pub mod url_parts;

pub use egress::{EgressPolicy, EgressRefused, EndpointNotAllowed, InvalidPrefix};
pub use scrub::Scrubber;

/// The innermost cause of a transport error (`Connection refused`, a TLS alert), cut before any
/// query it quotes: outer layers name the request's URL, whose query may hold a SAS or a token.
pub fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    match text.find('?') {
        Some(at) => format!("{}…", &text[..at]),
        None => text,
    }
}
