//! Byte offsets (what toml spans are) to 1-based line:column (what people read).

/// Line starts of one text, so many offsets can be turned into positions cheaply.
#[derive(Debug)]
pub(crate) struct SourceMap<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap { text, line_starts }
    }

    /// 1-based (line, column); the column counts characters, not bytes, so it
    /// matches what an editor shows on lines with non-ASCII text.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        // A span from the parser always lands on a char boundary, but a
        // position must never panic, whatever offset it is handed.
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let map = SourceMap::new("ab\né = 1\n");
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(1), (1, 2));
        assert_eq!(map.position(3), (2, 1));
        assert_eq!(map.position(6), (2, 3)); // after "é " (é is two bytes)
        assert_eq!(map.position(4), (2, 1)); // inside é: clamped, no panic
        assert_eq!(map.position(999), (3, 1));
    }
}
