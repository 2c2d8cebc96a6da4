//! A fast non-cryptographic hasher for the session's integer-keyed maps (identity map, pending
//! links). Keys are object slots and database ids, never attacker-chosen strings, so the
//! flooding resistance of the default SipHash buys nothing here and costs a lot on hot paths.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hash (as used in rustc): one multiply and rotate per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const NONE: u32 = u32::MAX;

/// The identity map: database id to slot. Generated keys are dense, so ids up to about twice the
/// number of entries live in a vector indexed by id (no hashing, 4 bytes an entry); any other id
/// goes to a hash map. Measured: a third of an eager load's time went to hashing ids.
#[derive(Default)]
pub(crate) struct IdIndex {
    dense: Vec<u32>,
    sparse: FxHashMap<i64, u32>,
    len: usize,
}

impl IdIndex {
    #[inline]
    pub fn get(&self, id: i64) -> Option<u32> {
        if let Some(&slot) = usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            if slot != NONE {
                return Some(slot);
            }
        }
        if self.sparse.is_empty() {
            None
        } else {
            self.sparse.get(&id).copied()
        }
    }

    pub fn insert(&mut self, id: i64, slot: u32) {
        if !self.sparse.is_empty() {
            if let Some(old) = self.sparse.get_mut(&id) {
                *old = slot;
                return;
            }
        }
        if let Ok(i) = usize::try_from(id) {
            if i >= self.dense.len() && i <= 2 * self.len + 1024 {
                self.dense
                    .resize((i + 1).max(self.dense.len() * 3 / 2), NONE);
            }
            if let Some(d) = self.dense.get_mut(i) {
                if *d == NONE {
                    self.len += 1;
                }
                *d = slot;
                return;
            }
        }
        self.sparse.insert(id, slot);
        self.len += 1;
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(d) = usize::try_from(id).ok().and_then(|i| self.dense.get_mut(i)) {
            if *d != NONE {
                *d = NONE;
                self.len -= 1;
                return;
            }
        }
        if self.sparse.remove(&id).is_some() {
            self.len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdIndex;

    #[test]
    fn dense_and_sparse_ids_both_map() {
        let mut m = IdIndex::default();
        for id in 1..=5000 {
            m.insert(id, id as u32 * 2);
        }
        m.insert(-7, 1);
        m.insert(1 << 40, 2);
        m.insert(0, 3);
        assert_eq!(m.get(4999), Some(9998));
        assert_eq!(m.get(-7), Some(1));
        assert_eq!(m.get(1 << 40), Some(2));
        assert_eq!(m.get(0), Some(3));
        assert_eq!(m.get(5001), None);
        m.remove(4999);
        m.remove(1 << 40);
        assert_eq!(m.get(4999), None);
        assert_eq!(m.get(1 << 40), None);
        m.insert(4999, 11);
        assert_eq!(m.get(4999), Some(11));
    }

    #[test]
    fn id_sets_hold_dense_sparse_and_negative_ids() {
        let mut s = super::IdSet::default();
        for id in [0, 1, 63, 64, 100_000, -5, 1 << 50] {
            s.insert(id);
        }
        for id in [0, 1, 63, 64, 100_000, -5, 1 << 50] {
            assert!(s.contains(id), "{id}");
        }
        for id in [2, 62, 65, 99_999, -4, (1 << 50) + 1] {
            assert!(!s.contains(id), "{id}");
        }
    }
}

/// A set of ids: a bitset for dense non-negative ids (one bit an id), a hash set for the rest.
#[derive(Default)]
pub(crate) struct IdSet {
    bits: Vec<u64>,
    sparse: std::collections::HashSet<i64, BuildHasherDefault<FxHasher>>,
}

impl IdSet {
    #[inline]
    pub fn insert(&mut self, id: i64) {
        if let Ok(i) = usize::try_from(id) {
            let word = i / 64;
            if word >= self.bits.len() && word <= 2 * self.bits.len() + 1024 {
                self.bits.resize(word + 1 + self.bits.len() / 2, 0);
            }
            if let Some(w) = self.bits.get_mut(word) {
                *w |= 1 << (i % 64);
                return;
            }
        }
        self.sparse.insert(id);
    }

    #[inline]
    pub fn contains(&self, id: i64) -> bool {
        if let Some(w) = usize::try_from(id)
            .ok()
            .and_then(|i| self.bits.get(i / 64).map(|w| (w, i)))
        {
            if w.0 >> (w.1 % 64) & 1 == 1 {
                return true;
            }
        }
        !self.sparse.is_empty() && self.sparse.contains(&id)
    }
}
