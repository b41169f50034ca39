//! Keeps secrets out of traces, alerts and messages: the helpers live in
//! [`harbor_core::redact`] (the LLM scorer uses them too); this module keeps their old path.

pub use harbor_core::redact::*;
