//! Bodies from peers are read to a bound: no buffer is sized by a peer's `Content-Length`, and
//! a peer that sends more than the bound gets the rest ignored (an answer) or refused.

use bytes::{Bytes, BytesMut};

/// An error answer's body: enough for any service's JSON or XML error, and then cut.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// A token or STS answer: a few KiB in practice.
pub const ANSWER_LIMIT: usize = 1024 * 1024;

/// A body read to at most a bound.
#[derive(Debug)]
pub struct BoundedBody {
    pub bytes: Bytes,
    /// The peer sent more than the bound; `bytes` holds the first part.
    pub cut: bool,
}

/// Reads at most `limit` bytes of `response`'s body. The buffer grows with what arrives, never
/// from the `Content-Length` the peer claims.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<BoundedBody, reqwest::Error> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok(BoundedBody {
                bytes: buf.freeze(),
                cut: true,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(BoundedBody {
        bytes: buf.freeze(),
        cut: false,
    })
}
