//! The data file (`../README.md`), shared by the SQLite (sync) and PostgreSQL (async) halves.

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Data {
    pub names: Vec<String>,
    pub titles: Vec<String>,
    /// Course indices per student.
    pub links: Vec<Vec<usize>>,
    /// Student indices.
    pub lookups: Vec<usize>,
    /// `[student index, drop_pick, add_from]`.
    pub churn: Vec<(usize, u64, u64)>,
    pub churn_batch: usize,
}

impl Data {
    pub fn read(path: &str) -> Result<Data, Box<dyn std::error::Error>> {
        Ok(serde_json::from_slice(&std::fs::read(path)?)?)
    }
}
