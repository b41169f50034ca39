//! The fake's shared state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use tokio::time::Instant;

use crate::config::FakeConfig;
use crate::corpus::Corpus;
use crate::faults::Faults;
use crate::limiter::Limiter;
use crate::replay::ReplayTable;

/// Mutable state, behind one lock that is never held across an await.
#[derive(Debug)]
pub(crate) struct State {
    pub corpus: Corpus,
    pub replay: ReplayTable,
    pub faults: Faults,
    pub token_faults: Faults,
    pub limiter: Limiter,
    pub tokens: HashMap<String, Instant>,
    pub token_counter: u64,
    /// Distinguishes tokens of different server instances.
    pub epoch_tag: u32,
    /// Requests received per endpoint.
    pub counts: BTreeMap<String, u64>,
    /// 429 answers sent (limiter and injected).
    pub rate_limited_sent: u64,
    /// 401 answers sent.
    pub unauthorized_sent: u64,
    /// Items a stream added, in order of appearance.
    pub appeared: Vec<crate::stream::Appearance>,
}

/// Config plus state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: FakeConfig,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig) -> Self {
        let corpus = config.corpus.as_ref().map(Corpus::generate).unwrap_or_default();
        let state = State {
            corpus,
            replay: ReplayTable::default(),
            faults: Faults::default(),
            token_faults: Faults::default(),
            limiter: Limiter::new(config.rate_limit),
            tokens: HashMap::new(),
            token_counter: 0,
            epoch_tag: std::process::id(),
            counts: BTreeMap::new(),
            rate_limited_sent: 0,
            unauthorized_sent: 0,
            appeared: Vec::new(),
        };
        Self {
            config,
            state: Mutex::new(state),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a handler must not take the whole fake down with a poisoned lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
