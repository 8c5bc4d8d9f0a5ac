//! A small JSON reader and MXNet's JSON writer layout (dmlc `JSONWriter`).
//!
//! The reader keeps object members in file order (MXNet's loader gives meaning to it: of
//! `attrs` and `attr`, the later one wins) and accepts what dmlc's reader accepts (raw control
//! characters inside strings) plus standard JSON escapes.

use std::fmt::Write as _;

/// A parsed JSON value; numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// What the value is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses `text` as one JSON value (surrounding whitespace allowed), building at most about
/// `budget` bytes of values (each value counts twice its size, for the slack of growing lists,
/// plus its text). Returns the value and the bytes of the budget it used. The error names the
/// line and column.
pub(crate) fn parse(text: &str, budget: usize) -> Result<(Json, usize), String> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
        budget,
        used: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok((value, p.used))
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
    /// Bytes of values allowed and built so far.
    budget: usize,
    used: usize,
}

const MAX_DEPTH: usize = 512;

/// What one value costs the budget besides its text: itself and the slack of the list holding
/// it (up to twice its size). An object member's key costs a `String` more, and its text.
const VALUE_COST: usize = 2 * size_of::<Json>();

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let before = &self.text.as_bytes()[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{what} at line {line}, column {col}")
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", byte as char)))
        }
    }

    /// Accounts `bytes` of memory; an error past the budget.
    fn charge(&mut self, bytes: usize) -> Result<(), String> {
        self.used = self.used.saturating_add(bytes);
        if self.used <= self.budget {
            Ok(())
        } else {
            Err(self.error(&format!(
                "the parsed document would take more than the memory limit of {} bytes",
                self.budget
            )))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.charge(VALUE_COST)?;
        match self.bytes.get(self.pos) {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.nested(Parser::object),
            Some(b'[') => self.nested(Parser::array),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Json, String>) -> Result<Json, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        self.charge(text.len())?;
        if text.parse::<f64>().is_err() {
            self.pos = start;
            return Err(self.error(&format!("invalid number {text:?}")));
        }
        Ok(Json::Number(text.to_owned()))
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            // Slicing at ASCII bytes keeps UTF-8 boundaries.
            out.push_str(&self.text[start..self.pos]);
            // Escapes give at most 4 bytes for their 2 to 12 of text: the text bounds the string.
            self.charge(self.pos - start + 4)?;
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.pos += 1;
                    let c = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error("invalid string escape")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) && self.bytes[self.pos..].starts_with(b"\\u") {
            self.pos += 2;
            let lo = self.hex4()?;
            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn array(&mut self) -> Result<Json, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.expect(b'{')?;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            self.charge(2 * size_of::<String>())?;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            members.push((key, self.value()?));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

/// dmlc's `JSONWriter`: a stack of open scopes, each single- or multi-line. Multi-line scopes
/// put every element on a new line indented two spaces per open scope, separators `", "`
/// before the newline, and the closing bracket on its own line when non-empty.
pub(crate) struct Writer {
    out: String,
    /// Per open scope: (multi-line, elements written).
    scopes: Vec<(bool, usize)>,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            out: String::new(),
            scopes: Vec::new(),
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn separator(&mut self) {
        if self.scopes.last().is_none_or(|s| s.0) {
            self.out.push('\n');
            self.out.push_str(&" ".repeat(self.scopes.len() * 2));
        }
    }

    pub(crate) fn begin_object(&mut self, multi_line: bool) {
        self.out.push('{');
        self.scopes.push((multi_line, 0));
    }

    pub(crate) fn begin_array(&mut self, multi_line: bool) {
        self.out.push('[');
        self.scopes.push((multi_line, 0));
    }

    fn end(&mut self, close: char) {
        if let Some((multi_line, count)) = self.scopes.pop()
            && multi_line
            && count > 0
        {
            self.separator();
        }
        self.out.push(close);
    }

    pub(crate) fn end_object(&mut self) {
        self.end('}');
    }

    pub(crate) fn end_array(&mut self) {
        self.end(']');
    }

    /// Starts an object member: separator, key (written as dmlc does, unescaped except for
    /// quotes and backslashes, which would break the file) and `": "`; the value follows.
    pub(crate) fn key(&mut self, key: &str) {
        if self.scopes.last().is_some_and(|s| s.1 > 0) {
            self.out.push_str(", ");
        }
        self.separator();
        self.out.push('"');
        for c in key.chars() {
            if matches!(c, '"' | '\\') {
                self.out.push('\\');
            }
            self.out.push(c);
        }
        self.out.push_str("\": ");
        if let Some(s) = self.scopes.last_mut() {
            s.1 += 1;
        }
    }

    /// Starts an array item; the value follows.
    pub(crate) fn item(&mut self) {
        if self.scopes.last().is_some_and(|s| s.1 > 0) {
            self.out.push_str(", ");
        }
        if let Some(s) = self.scopes.last_mut() {
            s.1 += 1;
        }
        self.separator();
    }

    /// A string value, escaping only `\r \n \\ \t "` as dmlc does.
    pub(crate) fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '\r' => self.out.push_str("\\r"),
                '\n' => self.out.push_str("\\n"),
                '\\' => self.out.push_str("\\\\"),
                '\t' => self.out.push_str("\\t"),
                '"' => self.out.push_str("\\\""),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    /// An integer value.
    pub(crate) fn int(&mut self, v: impl std::fmt::Display) {
        let _ = write!(self.out, "{v}");
    }

    /// An array of integers (dmlc: multi-line when longer than 10).
    pub(crate) fn int_array(&mut self, items: &[usize]) {
        self.begin_array(items.len() > 10);
        for v in items {
            self.item();
            self.int(v);
        }
        self.end_array();
    }

    /// A string→string map (dmlc: multi-line when it has more than one key).
    pub(crate) fn string_map<'a>(
        &mut self,
        len: usize,
        map: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        self.begin_object(len > 1);
        for (k, v) in map {
            self.key(k);
            self.string(v);
        }
        self.end_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json() {
        let v = parse(
            r#" {"a": [1, -2.5e3, true, null], "b": "x\"\\\n\u00e9\ud83d\ude00", "c": {}} "#,
            1 << 20,
        )
        .unwrap()
        .0;
        let Json::Object(members) = v else { panic!() };
        assert_eq!(members[0].0, "a");
        assert_eq!(
            members[0].1,
            Json::Array(vec![
                Json::Number("1".into()),
                Json::Number("-2.5e3".into()),
                Json::Bool(true),
                Json::Null
            ])
        );
        assert_eq!(members[1].1, Json::String("x\"\\\né😀".into()));
        assert_eq!(members[2].1, Json::Object(vec![]));
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "[1] x",
            "\"abc",
            "01x",
            "[\"\\q\"]",
        ] {
            assert!(parse(bad, 1 << 20).is_err(), "{bad}");
        }
        assert!(
            parse("[1,\n 2,\n }", 1 << 20)
                .unwrap_err()
                .contains("line 3")
        );
        let e = parse("[0, 0, 0, 0, 0, 0, 0, 0]", 8 * VALUE_COST).unwrap_err();
        assert!(e.contains("memory limit"), "{e}");
        assert!(parse("[0, 0, 0, 0, 0, 0, 0, 0]", 9 * VALUE_COST + 8).is_ok());
    }

    #[test]
    fn writes_dmlc_layout() {
        let mut w = Writer::new();
        w.begin_object(true);
        w.key("a");
        w.int_array(&[1, 2]);
        w.key("m");
        w.string_map(2, [("x", "1\n"), ("y", "2")].into_iter());
        w.key("e");
        w.int_array(&[]);
        w.end_object();
        assert_eq!(
            w.finish(),
            "{\n  \"a\": [1, 2], \n  \"m\": {\n    \"x\": \"1\\n\", \n    \"y\": \"2\"\n  }, \n  \"e\": []\n}"
        );
    }
}
