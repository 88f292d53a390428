//! A cache of the API server's answers about callers (TokenReview, SubjectAccessReview),
//! negative ones included, for a fixed time and bounded in size: when full, expired
//! entries go first, then the oldest. It never stops caching, so a stream of new tokens
//! cannot turn every later request into a review.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Answers by key, each kept for `ttl`, at most `max` of them.
#[derive(Debug)]
pub struct AnswerCache<K, V> {
    ttl: Duration,
    max: usize,
    answers: HashMap<K, (V, Instant)>,
    /// Keys in the order they were stored; a key stored again has a later entry and its
    /// earlier one is skipped when it comes up.
    order: VecDeque<(K, Instant)>,
}

impl<K: Hash + Eq + Clone, V: Clone> AnswerCache<K, V> {
    /// An empty cache (`max` at least 1).
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max: max.max(1),
            answers: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The answer for `key`, if it is younger than the TTL at `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        self.answers
            .get(key)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// Stores `value` for `key` at `now`, first dropping expired answers and, when still
    /// full, the oldest.
    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        while let Some((front, at)) = self.order.front() {
            let expired = now.saturating_duration_since(*at) >= self.ttl;
            let full = self.answers.len() >= self.max && !self.answers.contains_key(&key);
            // An entry superseded by a later store of the same key.
            let stale = self.answers.get(front).is_none_or(|(_, a)| a != at);
            if !(expired || full || stale) {
                break;
            }
            if let Some((front, at)) = self.order.pop_front()
                && self.answers.get(&front).is_some_and(|(_, a)| *a == at)
            {
                self.answers.remove(&front);
            }
        }
        self.answers.insert(key.clone(), (value, now));
        self.order.push_back((key, now));
    }

    /// How many answers it holds.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn answers_expire_negative_ones_too() {
        let now = Instant::now();
        let mut cache = AnswerCache::new(TTL, 8);
        cache.insert("valid", Some("alice"), now);
        cache.insert("bad token", None, now);
        assert_eq!(cache.get(&"valid", now), Some(Some("alice")));
        assert_eq!(
            cache.get(&"bad token", now + Duration::from_secs(9)),
            Some(None),
            "a refusal is reused within the TTL, so a bad token costs one review"
        );
        assert_eq!(cache.get(&"bad token", now + TTL), None);
        assert_eq!(cache.get(&"unknown", now), None);
    }

    #[test]
    fn a_full_cache_keeps_caching_and_stays_bounded() {
        let now = Instant::now();
        let mut cache = AnswerCache::new(TTL, 100);
        for i in 0..10_000u32 {
            cache.insert(i, false, now + Duration::from_millis(u64::from(i) / 100));
            assert!(cache.len() <= 100, "grew to {} at {i}", cache.len());
            assert!(
                cache.order.len() <= 100,
                "the order queue grew to {}",
                cache.order.len()
            );
        }
        let later = now + Duration::from_millis(100);
        assert_eq!(
            cache.get(&9_999, later),
            Some(false),
            "the newest answer is cached even though the cache was full"
        );
        assert_eq!(cache.get(&0, later), None, "the oldest went first");
    }

    #[test]
    fn expired_answers_go_before_fresh_ones() {
        let now = Instant::now();
        let mut cache = AnswerCache::new(TTL, 3);
        cache.insert("old", 1, now);
        cache.insert("a", 2, now + Duration::from_secs(5));
        cache.insert("b", 3, now + Duration::from_secs(6));
        let later = now + Duration::from_secs(11);
        cache.insert("c", 4, later);
        assert_eq!(cache.len(), 3);
        assert_eq!(
            (
                cache.get(&"a", later),
                cache.get(&"b", later),
                cache.get(&"c", later)
            ),
            (Some(2), Some(3), Some(4))
        );
    }

    #[test]
    fn storing_a_key_again_refreshes_it() {
        let now = Instant::now();
        let mut cache = AnswerCache::new(TTL, 2);
        cache.insert("a", 1, now);
        cache.insert("b", 2, now + Duration::from_secs(1));
        cache.insert("a", 3, now + Duration::from_secs(2));
        cache.insert("c", 4, now + Duration::from_secs(3));
        let t = now + Duration::from_secs(3);
        assert_eq!(cache.get(&"a", t), Some(3), "a was refreshed after b");
        assert_eq!(cache.get(&"b", t), None);
        assert_eq!(cache.len(), 2);
        assert!(cache.order.len() <= 3);
    }
}
