//! MXNet's JSON writer layout (dmlc `JSONWriter`), which symbol files are written in byte for
//! byte; the reader is serde_json ([`jsonfile`](super::jsonfile)).

use std::fmt::Write as _;

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
