//! MXNet's JSON form of initializers (`["xavier", {"magnitude": 3}]`): Python-style number
//! formatting for `dumps`, and a small JSON reader for [`create`](super::create).

use mxr_operators::registry::attrs::python_float;

use crate::{Error, Result};

/// `v` as Python's `json.dumps` writes a float: [`python_float`]'s `repr` digits (`0.07`,
/// `1.0`, `1e-08`, `1e+16`), with JSON's `NaN` and `Infinity` spellings.
pub(crate) fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    python_float(v)
}

/// Like [`py_float`], but integral values as integers (`3`), as Python writes the integer
/// defaults and arguments MXNet's examples use (`Xavier(magnitude=3)`, `Constant(3)`).
pub(crate) fn py_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{}", v as i64)
    } else {
        py_float(v)
    }
}

/// A JSON string literal.
pub(crate) fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Parses one JSON document.
pub(crate) fn parse(text: &str) -> Result<Json> {
    let mut p = Parser {
        text,
        chars: text.char_indices().peekable(),
    };
    let value = p.value()?;
    p.ws();
    match p.chars.peek() {
        None => Ok(value),
        Some(&(i, _)) => Err(p.error(i, "trailing characters")),
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl Parser<'_> {
    fn error(&self, at: usize, what: &str) -> Error {
        Error::InvalidArgument {
            call: "init::create",
            reason: format!("invalid JSON {:?} at byte {at}: {what}", self.text),
        }
    }

    fn ws(&mut self) {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    }

    fn expect(&mut self, want: char) -> Result<()> {
        self.ws();
        match self.chars.next() {
            Some((_, c)) if c == want => Ok(()),
            Some((i, c)) => Err(self.error(i, &format!("expected {want:?}, found {c:?}"))),
            None => Err(self.error(self.text.len(), &format!("expected {want:?}"))),
        }
    }

    fn value(&mut self) -> Result<Json> {
        self.ws();
        let Some(&(start, c)) = self.chars.peek() else {
            return Err(self.error(self.text.len(), "expected a value"));
        };
        match c {
            '[' => {
                self.chars.next();
                let mut items = Vec::new();
                self.ws();
                if self.chars.next_if(|(_, c)| *c == ']').is_some() {
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.chars.next() {
                        Some((_, ',')) => {}
                        Some((_, ']')) => return Ok(Json::Arr(items)),
                        Some((i, _)) => return Err(self.error(i, "expected ',' or ']'")),
                        None => return Err(self.error(self.text.len(), "unclosed array")),
                    }
                }
            }
            '{' => {
                self.chars.next();
                let mut fields = Vec::new();
                self.ws();
                if self.chars.next_if(|(_, c)| *c == '}').is_some() {
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let key = match self.value()? {
                        Json::Str(s) => s,
                        _ => return Err(self.error(start, "object keys must be strings")),
                    };
                    self.expect(':')?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.chars.next() {
                        Some((_, ',')) => {}
                        Some((_, '}')) => return Ok(Json::Obj(fields)),
                        Some((i, _)) => return Err(self.error(i, "expected ',' or '}'")),
                        None => return Err(self.error(self.text.len(), "unclosed object")),
                    }
                }
            }
            '"' => {
                self.chars.next();
                let mut s = String::new();
                loop {
                    match self.chars.next() {
                        Some((_, '"')) => return Ok(Json::Str(s)),
                        Some((i, '\\')) => match self.chars.next() {
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, 't')) => s.push('\t'),
                            Some((_, 'r')) => s.push('\r'),
                            Some((_, 'b')) => s.push('\u{8}'),
                            Some((_, 'f')) => s.push('\u{c}'),
                            Some((_, 'u')) => {
                                let hex: String = (0..4)
                                    .filter_map(|_| self.chars.next().map(|(_, c)| c))
                                    .collect();
                                let c = u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or_else(|| self.error(i, "bad \\u escape"))?;
                                s.push(c);
                            }
                            Some((_, c)) => s.push(c),
                            None => return Err(self.error(i, "unfinished escape")),
                        },
                        Some((_, c)) => s.push(c),
                        None => return Err(self.error(start, "unclosed string")),
                    }
                }
            }
            _ => {
                let mut end = start;
                while let Some((i, c)) = self
                    .chars
                    .next_if(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
                {
                    end = i + c.len_utf8();
                }
                match &self.text[start..end] {
                    "null" => Ok(Json::Null),
                    "true" => Ok(Json::Bool(true)),
                    "false" => Ok(Json::Bool(false)),
                    "NaN" => Ok(Json::Num(f64::NAN)),
                    "Infinity" => Ok(Json::Num(f64::INFINITY)),
                    "-Infinity" => Ok(Json::Num(f64::NEG_INFINITY)),
                    word => word
                        .parse::<f64>()
                        .map(Json::Num)
                        .map_err(|_| self.error(start, &format!("unexpected {word:?}"))),
                }
            }
        }
    }
}
