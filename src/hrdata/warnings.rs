//! A validation's warnings, capped like its errors: the first few kept, every one counted. A
//! header of thousands of unnamed columns must not make a report of thousands of lines.

/// Warnings kept (at most `max`) and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Warnings {
    pub list: Vec<String>,
    /// Every warning, including those not kept.
    pub count: u64,
    max: usize,
}

impl Warnings {
    pub fn new(max: usize) -> Self {
        Warnings {
            list: Vec::new(),
            count: 0,
            max,
        }
    }

    /// Counts a warning; `warning` makes its text only if it is kept.
    pub fn push_with(&mut self, warning: impl FnOnce() -> String) {
        self.count += 1;
        if self.list.len() < self.max {
            self.list.push(warning());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_and_counts_all() {
        let mut w = Warnings::new(2);
        for i in 0..5 {
            w.push_with(|| format!("w{i}"));
        }
        assert_eq!(
            (w.list, w.count),
            (vec!["w0".to_owned(), "w1".to_owned()], 5)
        );
    }
}
