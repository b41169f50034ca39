//! Answers of the heavy list endpoints, shared between identical requests.
//!
//! On DuckDB the server owns the file, so no other process can change the data while it runs: the
//! data changes only when the server itself writes (a run it started, a cutover change, a call of
//! another harbor command through its socket, after which the binary calls [`crate::db::Db::invalidate`]).
//! On Postgres other processes load too, and the server notices their commits in
//! `_harbor_loads` within [`crate::db::EXTERNAL_CHECK`]. Every such change moves the *generation*
//! on, and an answer is reused only while the generation it was computed under is still current
//! and for at most [`TTL`]. Identical requests
//! that arrive while the answer is being computed wait for that one query instead of each running
//! their own (single flight), so a burst of clients on one page costs one query.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// The longest an answer is reused, even when no write was seen.
pub const TTL: Duration = Duration::from_secs(2);
/// Answers kept at most; when full, the oldest half is dropped.
const MAX_ENTRIES: usize = 64;
/// Larger answers are computed per request and not kept.
const MAX_BYTES: usize = 1 << 20;

struct Entry {
    generation: u64,
    born: Instant,
    value: Arc<OnceCell<Bytes>>,
}

/// Answers by request (path and query string).
#[derive(Default)]
pub struct ResponseCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// Whether an answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Computed by this request.
    Miss,
    /// Reused (computed earlier, or by a concurrent identical request).
    Hit,
}

impl ResponseCache {
    /// The answer for `key` under `generation`: reused when fresh, else computed by `compute`
    /// (once for all concurrent identical requests). Errors are never kept.
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: &str,
        generation: u64,
        compute: F,
    ) -> Result<(Bytes, Hit), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let cell = self.cell(key, generation);
        let mut computed = false;
        let value = cell
            .get_or_try_init(|| {
                computed = true;
                compute()
            })
            .await?
            .clone();
        if value.len() > MAX_BYTES {
            self.forget(key, &cell);
        }
        Ok((value, if computed { Hit::Miss } else { Hit::Hit }))
    }

    fn cell(&self, key: &str, generation: u64) -> Arc<OnceCell<Bytes>> {
        let Ok(mut entries) = self.entries.lock() else {
            // A poisoned map only loses sharing; every request computes its own answer.
            return Arc::new(OnceCell::new());
        };
        if let Some(e) = entries.get(key)
            && e.generation == generation
            && e.born.elapsed() < TTL
        {
            return Arc::clone(&e.value);
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            let mut ages: Vec<Instant> = entries.values().map(|e| e.born).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            entries.retain(|_, e| e.born > cut);
        }
        let value = Arc::new(OnceCell::new());
        entries.insert(
            key.to_owned(),
            Entry {
                generation,
                born: Instant::now(),
                value: Arc::clone(&value),
            },
        );
        value
    }

    fn forget(&self, key: &str, cell: &Arc<OnceCell<Bytes>>) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.get(key).is_some_and(|e| Arc::ptr_eq(&e.value, cell))
        {
            entries.remove(key);
        }
    }

    /// Answers kept right now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(
        calls: &Arc<AtomicUsize>,
        text: &'static str,
    ) -> impl Future<Output = Result<Bytes, ApiError>> {
        let calls = Arc::clone(calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Bytes::from_static(text.as_bytes()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_identical_requests_run_one_query() {
        let cache = Arc::new(ResponseCache::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move {
                    cache
                        .get_or_compute("/a", 0, || counting(&calls, "a"))
                        .await
                        .map(|(b, _)| b)
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("task").expect("answer"), Bytes::from_static(b"a"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_generation_or_another_key_computes_again() {
        let cache = ResponseCache::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let (_, hit) = cache
            .get_or_compute("/a", 0, || counting(&calls, "a"))
            .await
            .expect("a");
        assert_eq!(hit, Hit::Miss);
        let (_, hit) = cache
            .get_or_compute("/a", 0, || counting(&calls, "a"))
            .await
            .expect("a");
        assert_eq!(hit, Hit::Hit);
        let (_, hit) = cache
            .get_or_compute("/a", 1, || counting(&calls, "a"))
            .await
            .expect("a");
        assert_eq!(hit, Hit::Miss);
        cache
            .get_or_compute("/b", 1, || counting(&calls, "b"))
            .await
            .expect("b");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn errors_are_not_kept_and_the_map_stays_bounded() {
        let cache = ResponseCache::default();
        let failed = cache
            .get_or_compute("/e", 0, || async { Err(ApiError::invalid("bad")) })
            .await;
        assert!(failed.is_err());
        let (b, hit) = cache
            .get_or_compute("/e", 0, || async { Ok(Bytes::from_static(b"ok")) })
            .await
            .expect("second try");
        assert_eq!((b, hit), (Bytes::from_static(b"ok"), Hit::Miss));
        for i in 0..(MAX_ENTRIES * 3) {
            cache
                .get_or_compute(&format!("/k{i}"), 0, || async { Ok(Bytes::new()) })
                .await
                .expect("ok");
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
        let big = Bytes::from(vec![b'x'; MAX_BYTES + 1]);
        cache
            .get_or_compute("/big", 0, || async move { Ok(big) })
            .await
            .expect("big");
        assert!(
            cache
                .get_or_compute("/big", 0, || async { Ok(Bytes::new()) })
                .await
                .expect("again")
                .0
                .is_empty()
        );
    }
}
