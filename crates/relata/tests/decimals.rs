//! `rust_decimal::Decimal` as a model field, on every backend: exact round trips to 28 digits
//! (the largest and smallest magnitudes, negative values, a scale kept on PostgreSQL and SQLite),
//! the native types (NUMERIC, DECIMAL(56,28), text), and filters.
#![cfg(feature = "rust_decimal")]

mod common;

use relata::{schema, Model};
use rust_decimal::Decimal;

#[derive(Model, Debug, Clone, PartialEq)]
#[relata(table = "ledger")]
struct Entry {
    #[relata(primary_key)]
    id: Option<i64>,
    amount: Decimal,
    fee: Option<Decimal>,
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn tables() -> relata::Schema {
    schema![Entry]
}

const EDGES: [&str; 8] = [
    "0",
    "12.50",
    "-0.0001",
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "0.0000000000000000000000000001",
    "7922816251426433759354395033.5",
    "123456789.123456789",
];

backend_test! {
    fn decimals_round_trip_exactly(t, tables()) {
        let mut s = t.db.session();
        for (i, text) in EDGES.iter().enumerate() {
            s.add(Entry { id: None, amount: dec(text), fee: (i % 2 == 0).then(|| dec("0.01")) });
        }
        s.commit().unwrap();
        let mut fresh = t.db.session();
        let all = fresh.query::<Entry>().order_by(Entry::ID.asc()).all().unwrap();
        for (k, text) in all.iter().zip(EDGES) {
            assert_eq!(fresh[*k].amount, dec(text), "{text}");
            if t.backend != "mysql" {
                // MySQL's DECIMAL has one scale for the column; the others keep the value's.
                assert_eq!(fresh[*k].amount.to_string(), text);
            }
        }
        assert_eq!(fresh[all[0]].fee, Some(dec("0.01")));
        assert_eq!(fresh[all[1]].fee, None);
        // Read back, an unchanged value is no change.
        assert!(fresh.pending_statements().unwrap().is_empty());
    }
}

backend_test! {
    fn decimals_filter(t, tables()) {
        let mut s = t.db.session();
        for text in ["10.5", "2.25", "-3"] {
            s.add(Entry { id: None, amount: dec(text), fee: None });
        }
        s.commit().unwrap();
        assert_eq!(s.query::<Entry>().filter(Entry::AMOUNT.eq(dec("2.25"))).count().unwrap(), 1);
        if t.is_server() {
            // Numeric order on the servers (SQLite compares the text).
            assert_eq!(s.query::<Entry>().filter(Entry::AMOUNT.gt(dec("2.3"))).count().unwrap(), 1);
        }
    }
}

backend_test! {
    fn columns_have_native_types(t, tables()) {
        let types = common::column_types(t, "ledger");
        let amount = &types.iter().find(|(c, _)| c == "amount").unwrap().1;
        let expect = match t.backend {
            "postgres" => "numeric",
            "mysql" => "decimal(57,28)",
            _ => "text",
        };
        assert_eq!(amount, expect);
    }
}
