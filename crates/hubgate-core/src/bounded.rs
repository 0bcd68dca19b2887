//! In-memory maps with a cap that make room gradually: a full map drops an
//! eighth of its entries, in hash order (as good as at random), rather than
//! all of them, which would make every entry costly again at once.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// Drops an eighth of `map` when it holds `capacity` entries or more, so one
/// more fits. A visit of the map per `capacity / 8` inserts.
pub fn make_room<K: Eq + Hash, V, S: BuildHasher>(map: &mut HashMap<K, V, S>, capacity: usize) {
    if map.len() < capacity {
        return;
    }
    let mut to_drop = (capacity / 8).max(1);
    map.retain(|_, _| {
        let keep = to_drop == 0;
        to_drop = to_drop.saturating_sub(1);
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_drops_an_eighth_and_a_small_one_nothing() {
        let mut map: HashMap<u32, ()> = (0..64).map(|i| (i, ())).collect();
        make_room(&mut map, 100);
        assert_eq!(map.len(), 64);
        make_room(&mut map, 64);
        assert_eq!(map.len(), 56);
        let mut tiny: HashMap<u32, ()> = (0..3).map(|i| (i, ())).collect();
        make_room(&mut tiny, 3);
        assert_eq!(tiny.len(), 2, "always room for one more");
    }
}
