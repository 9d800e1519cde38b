//! Turning HTTP failures into short, actionable text.

use std::error::Error as _;

/// The whole cause chain of a transport error ("connection refused", "timed out"), which
/// reqwest's own `Display` leaves out. A URL is shown as its origin only: its path may hold a
/// tenant read from a Secret, its query a SAS signature.
pub fn describe_transport_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("request timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), &crate::net::egress::origin(url));
    }
    // A refused or unreachable proxy otherwise reads like the service being down.
    if e.is_connect()
        && let Some(proxy) = e.url().and_then(crate::http_client::proxy_for)
    {
        text.push_str(&format!(
            " (through the proxy {proxy} from HTTPS_PROXY/HTTP_PROXY: check that it runs and accepts connections, or list the host in NO_PROXY)"
        ));
    }
    text
}

/// A response body as text, cut to a length that fits a status message.
pub fn truncate_body(body: &[u8]) -> String {
    const MAX: usize = 500;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
