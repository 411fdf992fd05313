//! A map that forgets its oldest entries past a capacity: the in-memory records of posted
//! prompts and decided approvals (one replica; shared state in DynamoDB comes later).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Insertion-ordered map holding at most `capacity` entries.
pub struct BoundedMap<K, V> {
    capacity: usize,
    order: VecDeque<K>,
    entries: HashMap<K, V>,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    /// An empty map that keeps the newest `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            entries: HashMap::new(),
        }
    }

    /// The value for `key`, if still remembered.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Sets `key`, forgetting the oldest entry when full.
    pub fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
        }
    }

    /// The remembered values, oldest first.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.order.iter().filter_map(|k| self.entries.get(k))
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &K) {
        if self.entries.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_is_forgotten_past_capacity() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("a", 10);
        m.insert("c", 3);
        assert_eq!(m.get(&"a"), None);
        assert_eq!(m.get(&"b"), Some(&2));
        assert_eq!(m.get(&"c"), Some(&3));
        m.remove(&"b");
        assert_eq!(m.get(&"b"), None);
        m.insert("d", 4);
        assert_eq!(m.get(&"c"), Some(&3));
        assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![3, 4]);
    }
}
