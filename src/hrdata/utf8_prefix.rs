//! How much of a source, from its first byte, is known to be UTF-8: checked a block at a time.
//!
//! Checking each record on its own costs a SIMD set-up and a pass per record of about 100
//! bytes (an eighth of validation's CPU time); one pass over a 512 KiB block costs a few
//! microseconds. A record that lies wholly inside the checked prefix needs no check of its own.
//! The first invalid byte ends the prefix for good: from there each record is checked alone,
//! which names the line of the bad byte, as before.

/// The prefix of a source known to be UTF-8, as its blocks are fed in order.
#[derive(Debug, Default)]
pub(crate) struct Utf8Prefix {
    /// Bytes from the start known to be UTF-8. A character cut by the end of the last block
    /// counts once the next block completes it.
    valid: u64,
    /// Bytes fed so far.
    fed: u64,
    /// The first bytes of a character cut by the end of the last block.
    cut: Vec<u8>,
    /// An invalid byte was seen: `valid` stays where it is.
    broken: bool,
}

impl Utf8Prefix {
    /// Bytes from the start of the source known to be UTF-8.
    pub fn valid_to(&self) -> u64 {
        self.valid
    }

    /// Bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Checks the next `block` of the source (blocks must come in order, none left out).
    pub fn feed(&mut self, mut block: &[u8]) {
        self.fed += block.len() as u64;
        if self.broken {
            return;
        }
        if let Some(&lead) = self.cut.first() {
            let width = char_width(lead);
            let take = width.saturating_sub(self.cut.len()).min(block.len());
            self.cut.extend_from_slice(&block[..take]);
            block = &block[take..];
            if self.cut.len() < width {
                return;
            }
            if width == 0 || std::str::from_utf8(&self.cut).is_err() {
                self.broken = true;
                return;
            }
            self.valid += width as u64;
            self.cut.clear();
        }
        match simdutf8::compat::from_utf8(block) {
            Ok(_) => self.valid += block.len() as u64,
            Err(e) => {
                self.valid += e.valid_up_to() as u64;
                match e.error_len() {
                    // The block ends inside a character: the next block may complete it.
                    None => self.cut.extend_from_slice(&block[e.valid_up_to()..]),
                    Some(_) => self.broken = true,
                }
            }
        }
    }
}

/// Bytes of the UTF-8 character that starts with `lead` (0 if no character starts so).
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fed_in(data: &[u8], cuts: &[usize]) -> Utf8Prefix {
        let mut prefix = Utf8Prefix::default();
        let mut at = 0;
        for &cut in cuts {
            let cut = cut.clamp(at, data.len());
            prefix.feed(&data[at..cut]);
            at = cut;
        }
        prefix.feed(&data[at..]);
        prefix
    }

    #[test]
    fn a_character_cut_by_a_block_end_counts_once_complete() {
        let data = "a,Zo\u{eb},\u{1F600}\n".as_bytes();
        for cut in 0..=data.len() {
            for second in cut..=data.len() {
                let prefix = fed_in(data, &[cut, second]);
                assert_eq!(prefix.valid_to(), data.len() as u64, "cuts {cut}, {second}");
                assert_eq!(prefix.fed(), data.len() as u64);
            }
        }
    }

    #[test]
    fn the_prefix_stops_at_the_first_invalid_byte() {
        let data = b"ok,caf\xe9,more text\n";
        for cut in 0..=data.len() {
            assert_eq!(fed_in(data, &[cut]).valid_to(), 6, "cut {cut}");
        }
        // A character cut and then not completed.
        assert_eq!(fed_in(b"ab\xc3", &[3]).valid_to(), 2);
        assert_eq!(fed_in(b"ab\xc3,", &[3]).valid_to(), 2);
    }

    proptest! {
        /// Wherever the blocks are cut, the prefix is exactly what `from_utf8` says is valid.
        #[test]
        fn the_prefix_is_what_std_says(
            data in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(0xc3u8), Just(0xa9u8), Just(0xe2u8), Just(0x82u8),
                            Just(0xacu8), Just(0xf0u8), Just(0x9fu8), Just(0xffu8)],
                0..40),
            cuts in proptest::collection::vec(0usize..40, 0..4),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let want = match std::str::from_utf8(&data) {
                Ok(_) => data.len(),
                Err(e) => e.valid_up_to(),
            };
            prop_assert_eq!(fed_in(&data, &cuts).valid_to(), want as u64);
        }
    }
}
