//! From an RFC 6901 JSON Pointer back to a line and column in the bytes the
//! index was read from.
//!
//! A small scanner walks the original text once for any number of pointers:
//! it descends only into values on the way to a wanted pointer and skips
//! everything else without decoding it. A pointer to something that is not
//! there (a missing property) lands on its deepest existing parent.
//! Lines are 1-based; columns are 1-based and count Unicode scalar values
//! (SARIF's `unicodeCodePoints`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use ocifit_core::index::escape;

/// Where a value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset of the value's first byte.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// The input text. Lines are counted on demand (a vectorized count of
/// newline bytes), so a large clean file costs nothing here.
#[derive(Debug)]
pub struct SourceMap<'a> {
    bytes: &'a [u8],
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

/// Characters in valid UTF-8: the bytes that do not continue a character.
fn chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b & 0xC0 != 0x80).count()
}

impl<'a> SourceMap<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        SourceMap { bytes }
    }

    /// Line and column of a byte offset.
    pub fn position(&self, offset: usize) -> Position {
        self.positions(&[offset]).pop().expect("one offset, one position")
    }

    /// Line and column of many byte offsets, in one pass over the text
    /// (sorted, each stretch between two offsets counted once), so even a
    /// one-line, megabytes-long document with many diagnostics is linear.
    pub fn positions(&self, offsets: &[usize]) -> Vec<Position> {
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_by_key(|i| offsets[*i]);
        let mut out = vec![Position { offset: 0, line: 1, column: 1 }; offsets.len()];
        // The line and column at byte `at`.
        let (mut at, mut line, mut column) = (0usize, 1usize, 1usize);
        for i in order {
            let offset = offsets[i].min(self.bytes.len());
            let stretch = &self.bytes[at..offset];
            match stretch.iter().rposition(|b| *b == b'\n') {
                Some(last) => {
                    line += newlines(stretch);
                    column = 1 + chars(&stretch[last + 1..]);
                }
                None => column += chars(stretch),
            }
            at = offset;
            out[i] = Position { offset, line, column };
        }
        out
    }

    /// At most `before` characters before `offset` and `after` from it, on
    /// its line, with `...` where the line goes on; and the caret's position
    /// (in characters) in that text. Tabs are shown as spaces so the caret
    /// lines up.
    pub fn excerpt(&self, offset: usize, before: usize, after: usize) -> (String, usize) {
        let bytes = self.bytes;
        let offset = offset.min(bytes.len());
        let continuation = |b: u8| b & 0xC0 == 0x80;
        let (mut start, mut shown_before) = (offset, 0usize);
        while start > 0 && bytes[start - 1] != b'\n' && shown_before < before {
            start -= 1;
            while start > 0 && continuation(bytes[start]) {
                start -= 1;
            }
            shown_before += 1;
        }
        let (mut end, mut shown_after) = (offset, 0usize);
        while end < bytes.len() && bytes[end] != b'\n' && shown_after < after {
            end += 1;
            while end < bytes.len() && continuation(bytes[end]) {
                end += 1;
            }
            shown_after += 1;
        }
        let cut_before = start > 0 && bytes[start - 1] != b'\n';
        // What follows on the line: at most two bytes are looked at (a
        // minified document is one line of megabytes).
        let next = &bytes[end..(end + 2).min(bytes.len())];
        let rest_of_line = match next.iter().position(|b| *b == b'\n') {
            Some(n) => &next[..n],
            None => next,
        };
        let cut_after = !(rest_of_line.is_empty() || rest_of_line == b"\r");
        let body = String::from_utf8_lossy(&bytes[start..end]);
        let body = body.strip_suffix('\r').unwrap_or(&body);
        let mut text = String::new();
        if cut_before {
            text.push_str("...");
        }
        text.push_str(&body.replace('\t', " "));
        if cut_after {
            text.push_str("...");
        }
        (text, shown_before + if cut_before { 3 } else { 0 })
    }

    /// Where each pointer's value starts (or its deepest existing parent's);
    /// `None` only when the text is not JSON.
    pub fn locate_all(&self, pointers: &[&str]) -> Vec<Option<Position>> {
        if pointers.is_empty() {
            return Vec::new();
        }
        let mut targets: HashSet<&str> = HashSet::new();
        let mut prefixes: HashSet<&str> = HashSet::new();
        for p in pointers {
            targets.insert(p);
            let mut cut = p.len();
            while let Some(slash) = p[..cut].rfind('/') {
                prefixes.insert(&p[..slash]);
                targets.insert(&p[..slash]);
                cut = slash;
            }
        }
        let mut found: HashMap<String, usize> = HashMap::new();
        let mut scanner = Scanner { bytes: self.bytes, pos: 0 };
        scanner.ws();
        let mut path = String::new();
        let _ = scanner.value(&mut path, &targets, &prefixes, &mut found);
        let offsets: Vec<Option<usize>> = pointers
            .iter()
            .map(|p| {
                let mut p: &str = p;
                loop {
                    if let Some(&offset) = found.get(p) {
                        return Some(offset);
                    }
                    p = &p[..p.rfind('/')?];
                }
            })
            .collect();
        let known: Vec<usize> = offsets.iter().flatten().copied().collect();
        let mut positions = self.positions(&known).into_iter();
        offsets.iter().map(|o| o.and_then(|_| positions.next())).collect()
    }

    pub fn locate(&self, pointer: &str) -> Option<Position> {
        self.locate_all(&[pointer]).pop().flatten()
    }
}

/// Eight bytes at a time (SWAR): the offset of the first byte of `bytes`
/// for which `hit(word)` marks one, where `hit` sets the high bit of every
/// byte of interest of a little-endian word; the lowest marked byte is exact.
fn find(bytes: &[u8], hit: impl Fn(u64) -> u64, scalar: impl Fn(u8) -> bool) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let m = hit(word);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|b| scalar(*b)).map(|n| at + n)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each zero byte of `v` (exact for the lowest one).
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

fn splat(b: u8) -> u64 {
    LO * b as u64
}

/// Where a string being skipped stops: `"` or `\`.
fn find_in_string(bytes: &[u8]) -> Option<usize> {
    find(bytes, |w| zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\')), |b| b == b'"' || b == b'\\')
}

/// Where a container being skipped needs a look: `"`, `{`, `}`, `[`, `]`.
/// Setting bit 5 folds `[`/`]` onto `{`/`}`; it also folds 0x02 onto `"`,
/// a control byte JSON does not allow outside strings (and inside them the
/// string scan runs), so it costs at most a wasted look.
fn find_structural(bytes: &[u8]) -> Option<usize> {
    find(
        bytes,
        |w| {
            let w = w | splat(0x20);
            zero_bytes(w ^ splat(b'{')) | zero_bytes(w ^ splat(b'}')) | zero_bytes(w ^ splat(b'"'))
        },
        |b| matches!(b | 0x20, b'{' | b'}' | b'"'),
    )
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Not JSON (the scanner gives up; callers fall back to no position).
struct Malformed;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), Malformed> {
        self.ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// At a value (whitespace skipped): record it, descend or skip it.
    fn value(
        &mut self,
        path: &mut String,
        targets: &HashSet<&str>,
        prefixes: &HashSet<&str>,
        found: &mut HashMap<String, usize>,
    ) -> Result<(), Malformed> {
        self.ws();
        if targets.contains(path.as_str()) {
            found.insert(path.clone(), self.pos);
        }
        if !prefixes.contains(path.as_str()) {
            return self.skip();
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.expect(b':')?;
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape(&key));
                    self.value(path, targets, prefixes, found)?;
                    path.truncate(len);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(Malformed),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                let mut i = 0usize;
                loop {
                    let len = path.len();
                    path.push('/');
                    let _ = write!(path, "{i}");
                    self.value(path, targets, prefixes, found)?;
                    path.truncate(len);
                    i += 1;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(Malformed),
                    }
                }
            }
            _ => self.skip(),
        }
    }

    /// A string's decoded contents (at its opening quote).
    fn string(&mut self) -> Result<String, Malformed> {
        let start = self.pos;
        self.skip_string()?;
        let raw = &self.bytes[start..self.pos];
        if !raw.contains(&b'\\') {
            return std::str::from_utf8(&raw[1..raw.len() - 1]).map(String::from).map_err(|_| Malformed);
        }
        serde_json::from_slice(raw).map_err(|_| Malformed)
    }

    fn skip_string(&mut self) -> Result<(), Malformed> {
        if self.peek() != Some(b'"') {
            return Err(Malformed);
        }
        self.pos += 1;
        loop {
            // Jump to the next quote or backslash.
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            self.pos += find_in_string(rest).ok_or(Malformed)?;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => self.pos += 2,
            }
        }
    }

    /// Skip one value without looking inside it.
    fn skip(&mut self) -> Result<(), Malformed> {
        self.ws();
        match self.peek() {
            None => Err(Malformed),
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    // Jump to the next byte that matters.
                    let rest = self.bytes.get(self.pos..).unwrap_or_default();
                    self.pos += find_structural(rest).ok_or(Malformed)?;
                    match self.peek() {
                        None => return Err(Malformed),
                        Some(b'"') => self.skip_string()?,
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.pos += 1;
                        }
                        Some(b'}' | b']') => {
                            depth -= 1;
                            self.pos += 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        Some(_) => self.pos += 1,
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start { Err(Malformed) } else { Ok(()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "{\n  \"a/b\": 1,\n  \"m~n\": [true, {\"k\": \"v\\\"}\"}],\n  \"é\": \"ü\", \"x\": {\"\\u0079\": null}\n}\n";

    fn at(pointer: &str) -> Option<(usize, usize)> {
        SourceMap::new(TEXT.as_bytes()).locate(pointer).map(|p| (p.line, p.column))
    }

    #[test]
    fn root_and_escaped_keys() {
        assert_eq!(at(""), Some((1, 1)));
        assert_eq!(at("/a~1b"), Some((2, 10)));
        assert_eq!(at("/m~0n"), Some((3, 10)));
        assert_eq!(at("/m~0n/0"), Some((3, 11)));
        assert_eq!(at("/m~0n/1"), Some((3, 17)));
        assert_eq!(at("/m~0n/1/k"), Some((3, 23)));
    }

    #[test]
    fn columns_count_characters_and_keys_are_decoded() {
        assert_eq!(at("/é"), Some((4, 8)));
        assert_eq!(at("/x"), Some((4, 18)));
        assert_eq!(at("/x/y"), Some((4, 29)));
    }

    #[test]
    fn missing_pointers_land_on_their_parent() {
        assert_eq!(at("/m~0n/7"), at("/m~0n"));
        assert_eq!(at("/nope/deeper"), at(""));
    }

    #[test]
    fn many_pointers_in_one_pass_match_one_at_a_time() {
        let pointers = ["/m~0n/1/k", "", "/x/y", "/a~1b", "/m~0n/0"];
        let map = SourceMap::new(TEXT.as_bytes());
        let all = map.locate_all(&pointers);
        for (p, got) in pointers.iter().zip(all) {
            assert_eq!(got, map.locate(p), "{p}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_every_value() {
        // Every pointer of a document points at text that parses to that value.
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut pointers = Vec::new();
        fn walk(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| walk(v, format!("{at}/{}", escape(k)), out)),
                serde_json::Value::Array(a) => {
                    a.iter().enumerate().for_each(|(i, v)| walk(v, format!("{at}/{i}"), out))
                }
                _ => {}
            }
            out.push(at);
        }
        walk(&doc, String::new(), &mut pointers);
        let refs: Vec<&str> = pointers.iter().map(String::as_str).collect();
        let map = SourceMap::new(text.as_bytes());
        for (p, pos) in refs.iter().zip(map.locate_all(&refs)) {
            let pos = pos.unwrap();
            let mut de = serde_json::Deserializer::from_slice(&text.as_bytes()[pos.offset..]);
            let v: serde_json::Value = serde::Deserialize::deserialize(&mut de).unwrap();
            assert_eq!(&v, doc.pointer(p).unwrap(), "{p}");
        }
    }

    #[test]
    fn lines_and_crlf() {
        let map = SourceMap::new(b"{\r\n  \"a\": 1\r\n}");
        let a = map.locate("/a").unwrap();
        assert_eq!((a.line, a.column), (2, 8));
        assert_eq!(map.excerpt(a.offset, 40, 60), ("  \"a\": 1".to_string(), 7));
        assert_eq!(map.excerpt(999, 40, 60), ("}".to_string(), 1));
    }

    #[test]
    fn garbage_is_not_a_panic() {
        for text in ["", "{", "[1,", "{\"a\" 1}", "\"abc", "{\"a\":[}"] {
            let _ = SourceMap::new(text.as_bytes()).locate_all(&["/a/0", ""]);
        }
    }

    #[test]
    fn excerpts_cut_long_lines_on_character_boundaries() {
        let line = format!("{}é{}", "x".repeat(300), "y".repeat(300));
        let map = SourceMap::new(line.as_bytes());
        let (text, caret) = map.excerpt(300, 40, 60);
        assert!(text.starts_with("...") && text.ends_with("..."), "{text}");
        assert_eq!(text.chars().nth(caret), Some('é'));
        assert_eq!(text.chars().count(), 3 + 40 + 60 + 3);
        assert_eq!(map.position(302).column, 302);
        // Many offsets on one huge line: one pass.
        let big = "a".repeat(5_000_000);
        let offsets: Vec<usize> = (0..1000).map(|i| i * 4999).collect();
        let map = SourceMap::new(big.as_bytes());
        let got = map.positions(&offsets);
        assert!(got.iter().zip(&offsets).all(|(p, o)| p.line == 1 && p.column == o + 1));
        // And excerpts look at the text around the offset only.
        for o in &offsets {
            let (text, caret) = map.excerpt(*o, 40, 60);
            assert!(text.len() <= 106 && caret <= 43, "{o}");
        }
    }

    proptest::proptest! {
        /// The eight-bytes-at-a-time searches agree with a plain scan.
        #[test]
        fn swar_search_matches_a_plain_scan(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
                                            pick in proptest::collection::vec(0usize..8, 0..80)) {
            // Bias towards the interesting bytes.
            let interesting = [b'"', b'\\', b'{', b'}', b'[', b']', 0x02, b'a'];
            let bytes: Vec<u8> = bytes.iter().zip(pick.iter().chain(std::iter::repeat(&7)))
                .map(|(b, p)| if *p < 7 { interesting[*p] } else { *b }).collect();
            proptest::prop_assert_eq!(find_in_string(&bytes), bytes.iter().position(|b| *b == b'"' || *b == b'\\'));
            let structural = |b: u8| matches!(b, b'"' | b'{' | b'}' | b'[' | b']' | 0x02);
            proptest::prop_assert_eq!(find_structural(&bytes), bytes.iter().position(|b| structural(*b)));
        }
    }
}
