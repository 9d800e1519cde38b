//! hrconnector: uploads HR resignation data to Microsoft Purview's HR connector, from the command
//! line or as a Kubernetes operator.
//!
//! The library is split by job: [`hrdata`] reads and validates the CSV and cuts it into
//! record-exact chunks, [`upload`] talks to Entra ID and the ingestion service, [`emulator`] plays
//! both services on loopback for tests and the demo, [`fips`] reports whether the cryptography runs on the FIPS 140-3 module, and
//! [`cli`] is the command line.

pub mod cli;
pub mod cloud;
pub mod controller;
pub mod convert;
pub mod crd;
pub mod duration;
pub mod emulator;
pub mod fips;
pub mod hrdata;
pub mod http_client;
pub mod net;
pub mod schedule;
pub mod source;
pub mod upload;
