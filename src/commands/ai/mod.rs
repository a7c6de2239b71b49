//! RedisAI tensor commands: AI.TENSORSET and AI.TENSORGET.

mod tensorget;
mod tensorset;

pub use tensorget::tensorget;
pub use tensorset::tensorset;
