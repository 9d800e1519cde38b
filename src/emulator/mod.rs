//! Local token and ingestion endpoints that behave like the real services.
