pub mod health;
pub mod leader;
pub mod metrics;
