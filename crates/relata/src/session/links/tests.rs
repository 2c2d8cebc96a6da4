//! The link set's rules, without a database.

use super::*;

const OLD: NewEnds = NewEnds {
    left: false,
    right: false,
};

fn set() -> LinkSet {
    // The tests never look at the definition.
    static DEF: AssocDef = AssocDef {
        table: "t",
        name: "T",
        left: crate::relation::AssocSide {
            column: "l",
            table: &DUMMY,
            relation: "rs",
            order_by: None,
        },
        right: crate::relation::AssocSide {
            column: "r",
            table: &DUMMY,
            relation: "ls",
            order_by: None,
        },
        slot: || 0,
        storage: crate::relation::Storage::Table,
    };
    static DUMMY: crate::model::TableDef = crate::model::TableDef {
        name: "d",
        model: "D",
        primary_key: "id",
        chosen_key: None,
        autoincrement: false,
        columns: &[],
        version: None,
        slot: || 0,
    };
    LinkSet::new(&DEF)
}

fn ops(s: &LinkSet) -> Vec<(u32, u32, LinkOp)> {
    s.live().map(|p| (p.left, p.right, p.op)).collect()
}

#[test]
fn link_twice_is_one_pending_insert_visible_from_both_sides() {
    let mut s = set();
    assert!(s.link(1, 2, OLD));
    assert!(!s.link(1, 2, OLD));
    assert_eq!(ops(&s), vec![(1, 2, LinkOp::Add)]);
    assert_eq!(s.collection(Side::Left, 1).unwrap().items, vec![2]);
    assert_eq!(s.collection(Side::Right, 2).unwrap().items, vec![1]);
}

#[test]
fn unlink_then_relink_of_a_known_pair_writes_nothing() {
    let mut s = set();
    s.collection_mut(Side::Left, 1).loaded = true;
    s.collection_mut(Side::Left, 1).items.push(2);
    assert!(s.unlink(1, 2, OLD));
    assert_eq!(ops(&s), vec![(1, 2, LinkOp::Remove)]);
    assert!(s.link(1, 2, OLD));
    assert!(ops(&s).is_empty());
    assert_eq!(s.collection(Side::Left, 1).unwrap().items, vec![2]);
}

#[test]
fn unlink_then_relink_of_an_unknown_pair_still_inserts() {
    let mut s = set();
    assert!(s.unlink(1, 2, OLD));
    assert!(s.link(1, 2, OLD));
    assert_eq!(ops(&s), vec![(1, 2, LinkOp::Add)]);
}

#[test]
fn link_then_unlink_of_an_unknown_pair_still_deletes() {
    let mut s = set();
    assert!(s.link(1, 2, OLD));
    assert!(s.unlink(1, 2, OLD));
    assert_eq!(ops(&s), vec![(1, 2, LinkOp::Remove)]);
}

#[test]
fn link_then_unlink_cancels() {
    let mut s = set();
    s.link(
        1,
        2,
        NewEnds {
            left: true,
            right: false,
        },
    );
    s.unlink(1, 2, OLD);
    assert!(ops(&s).is_empty());
    assert!(s.collection(Side::Left, 1).unwrap().items.is_empty());
}

#[test]
fn unlinking_an_absent_pair_of_a_loaded_side_is_a_no_op() {
    let mut s = set();
    s.collection_mut(Side::Right, 2).loaded = true;
    assert!(!s.unlink(1, 2, OLD));
    assert!(ops(&s).is_empty());
}

#[test]
fn rollback_restores_views() {
    let mut s = set();
    s.collection_mut(Side::Left, 1).loaded = true;
    s.collection_mut(Side::Left, 1).items.push(2);
    s.unlink(1, 2, OLD);
    s.link(1, 3, OLD);
    s.rolled_back();
    let mut items = s.collection(Side::Left, 1).unwrap().items.clone();
    items.sort();
    assert_eq!(items, vec![2]);
    assert!(ops(&s).is_empty());
}

#[test]
fn loading_a_pair_linked_in_the_session_drops_the_pending_insert() {
    let mut s = set();
    s.link(1, 2, OLD);
    assert!(!s.loaded_pair(1, 2, Side::Left));
    assert!(ops(&s).is_empty());
    assert_eq!(s.collection(Side::Left, 1).unwrap().items, vec![2]);
}
