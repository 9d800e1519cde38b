//! Uploads to the Purview HR connector: token, chunks, retry, checkpoint.
