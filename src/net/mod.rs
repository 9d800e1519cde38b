//! The base layer for talking to the outside: where requests may go ([`egress`]), how much of
//! an answer is read ([`body`]), which values may become parts of URLs ([`url_parts`]), and
//! what error text may say ([`scrub`]). The HTTP client that enforces them is
//! [`crate::http_client`].

pub mod body;
pub mod egress;
pub mod scrub;
pub mod url_parts;

pub use egress::{EgressPolicy, EgressRefused, EndpointNotAllowed, InvalidPrefix};
pub use scrub::Scrubber;
