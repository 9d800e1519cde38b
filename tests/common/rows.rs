//! The records of a chunk body as the `csv` crate reads them (included with `#[path]`).

/// Every record of `body`, header row included, as strings.
pub fn parse_rows(body: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body)
        .records()
        .map(|r| r.expect("chunk parses").iter().map(str::to_owned).collect())
        .collect()
}
