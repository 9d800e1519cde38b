//! The newest of a pattern: a source whose last path segment holds `*` or `?` names the newest
//! of the files or objects it matches, as HR systems drop dated files
//! (`terminations_2026-12-01.csv`) for the job to pick up.
//!
//! The rule is the same for every source that has names (a PVC's directory, an Azure container,
//! an S3 bucket): among the names matching the last segment, the newest by modification time;
//! of equally new ones, the greatest name. Only the last segment may hold a wildcard, so one
//! listing of one directory (or prefix) decides; `[` and `]` are literal, a leading dot must be
//! matched literally (a writer's hidden `.part` file is never taken).

use std::time::SystemTime;

/// Names shown in a "no match" error, at most.
pub const LISTED_AT_MOST: usize = 20;

/// A path whose last segment is a pattern.
#[derive(Debug, Clone)]
pub struct NamePattern {
    /// The segments before the last, without a trailing `/` (empty: the top).
    dir: String,
    /// The last segment as written.
    text: String,
    glob: glob::Pattern,
}

impl NamePattern {
    /// The pattern of `path`, or `None` when its last segment has no `*` or `?` (a plain name).
    /// A wildcard before the last segment is refused.
    pub fn parse(path: &str) -> Result<Option<NamePattern>, String> {
        let (dir, last) = path.rsplit_once('/').unwrap_or(("", path));
        if dir.contains(['*', '?']) {
            return Err(format!(
                "{path:?}: only the last segment of a path may hold * or ? (the newest match in \
                 one directory is taken)"
            ));
        }
        if !last.contains(['*', '?']) {
            return Ok(None);
        }
        // Only * and ? are special: everything else, [ and ] included, is matched as written.
        let mut escaped = String::with_capacity(last.len() + 8);
        let mut literal = String::new();
        for c in last.chars() {
            if matches!(c, '*' | '?') {
                escaped.push_str(&glob::Pattern::escape(&literal));
                literal.clear();
                escaped.push(c);
            } else {
                literal.push(c);
            }
        }
        escaped.push_str(&glob::Pattern::escape(&literal));
        let glob = glob::Pattern::new(&escaped).map_err(|e| format!("{path:?}: {e}"))?;
        Ok(Some(NamePattern {
            dir: dir.to_owned(),
            text: last.to_owned(),
            glob,
        }))
    }

    /// The directory (or prefix) listed: the path before the last segment, empty for the top.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Whether the last segment `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        self.glob.matches_with(name, options)
    }

    /// The whole pattern, as written.
    pub fn text(&self) -> String {
        if self.dir.is_empty() {
            self.text.clone()
        } else {
            format!("{}/{}", self.dir, self.text)
        }
    }
}

/// Picks the newest of what a listing found, keeping the names seen for a "no match" error.
#[derive(Debug)]
pub struct Newest<T> {
    best: Option<(SystemTime, String, T)>,
    listed: Vec<String>,
    total: usize,
}

impl<T> Default for Newest<T> {
    fn default() -> Self {
        Newest {
            best: None,
            listed: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Newest<T> {
    /// One entry of the listing, by its last segment `name`.
    pub fn offer(&mut self, pattern: &NamePattern, name: &str, modified: SystemTime, item: T) {
        self.total += 1;
        if self.listed.len() < LISTED_AT_MOST {
            self.listed.push(name.to_owned());
        }
        if !pattern.matches(name) {
            return;
        }
        let newer = self
            .best
            .as_ref()
            .is_none_or(|(when, best, _)| (modified, name) > (*when, best.as_str()));
        if newer {
            self.best = Some((modified, name.to_owned(), item));
        }
    }

    /// The newest match, or the error naming the pattern and what was listed.
    pub fn choose(self, pattern: &NamePattern, place: &str) -> Result<T, NoMatch> {
        match self.best {
            Some((_, _, item)) => Ok(item),
            None => Err(NoMatch {
                pattern: pattern.text(),
                place: place.to_owned(),
                listed: self.listed,
                total: self.total,
            }),
        }
    }
}

/// Nothing matched the pattern: names it, where it looked and what it found there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no file matches {pattern:?} in {place}: {}", listing(.listed, *.total))]
pub struct NoMatch {
    pub pattern: String,
    pub place: String,
    pub listed: Vec<String>,
    pub total: usize,
}

fn listing(listed: &[String], total: usize) -> String {
    match total {
        0 => "it is empty".to_owned(),
        n if n > listed.len() => format!(
            "it holds {n} entries, the first {} being {}",
            listed.len(),
            listed.join(", ")
        ),
        _ => format!("it holds {}", listed.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pattern(path: &str) -> NamePattern {
        NamePattern::parse(path).unwrap().expect("a pattern")
    }

    #[test]
    fn only_the_last_segment_makes_a_pattern() {
        assert!(NamePattern::parse("in/hr.csv").unwrap().is_none());
        let p = pattern("in/drops/terminations_*.csv");
        assert_eq!(p.dir(), "in/drops");
        assert_eq!(p.text(), "in/drops/terminations_*.csv");
        assert_eq!(pattern("*.csv").dir(), "");
        let err = NamePattern::parse("in/*/hr.csv").unwrap_err();
        assert!(err.contains("only the last segment"), "{err}");
    }

    #[test]
    fn star_and_question_mark_are_the_only_wildcards() {
        let p = pattern("terminations_????-??-??.csv");
        assert!(p.matches("terminations_2026-12-01.csv"));
        assert!(!p.matches("terminations_2026-12-1.csv"));
        let p = pattern("report[1]_*.csv");
        assert!(p.matches("report[1]_a.csv"));
        assert!(!p.matches("report1_a.csv"));
        // A writer's hidden partial file is not taken.
        let p = pattern("*.csv");
        assert!(!p.matches(".terminations.csv"));
        assert!(p.matches("Terminations.csv"));
        assert!(!p.matches("terminations.CSV"));
    }

    #[test]
    fn the_newest_wins_and_ties_go_to_the_greatest_name() {
        let p = pattern("t_*.csv");
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let mut newest = Newest::default();
        newest.offer(&p, "t_2026-12-01.csv", at(100), 1);
        newest.offer(&p, "t_2026-11-30.csv", at(200), 2);
        newest.offer(&p, "other.csv", at(900), 3);
        assert_eq!(newest.choose(&p, "dir").unwrap(), 2);

        let mut tie = Newest::default();
        tie.offer(&p, "t_b.csv", at(100), "b");
        tie.offer(&p, "t_c.csv", at(100), "c");
        tie.offer(&p, "t_a.csv", at(100), "a");
        assert_eq!(tie.choose(&p, "dir").unwrap(), "c");
    }

    #[test]
    fn no_match_names_the_pattern_and_at_most_twenty_names() {
        let p = pattern("in/t_*.csv");
        let mut newest = Newest::<()>::default();
        for i in 0..25 {
            newest.offer(&p, &format!("other{i:02}.txt"), SystemTime::UNIX_EPOCH, ());
        }
        let err = newest.choose(&p, "s3://hr/in/").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"in/t_*.csv\""), "{text}");
        assert!(text.contains("25 entries, the first 20"), "{text}");
        assert!(
            text.contains("other19.txt") && !text.contains("other20.txt"),
            "{text}"
        );
        let empty = Newest::<()>::default()
            .choose(&p, "s3://hr/in/")
            .unwrap_err();
        assert!(empty.to_string().ends_with("it is empty"), "{empty}");
    }
}
