//! The syntax errors of Go's `encoding/json`, worded as it words them: kube-apiserver quotes
//! them when a body (or a continue token, or a docker config) is not JSON.

/// The first syntax error of `input` as Go words it, `None` when `input` is one JSON value.
pub fn syntax_error(input: &[u8]) -> Option<String> {
    let mut s = Scanner { input, pos: 0 };
    s.value().err().or_else(|| {
        s.skip_space();
        s.peek()
            .map(|c| format!("invalid character {} after top-level value", quote_char(c)))
    })
}

/// The name Go's `UnmarshalTypeError` gives the JSON value `v` (`object`, `array`, ...).
pub fn value_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A byte as Go's scanner quotes it in messages (`'x'`, `'\''`, `'\u0081'`).
pub fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        0x07 => "'\\a'".into(),
        0x08 => "'\\b'".into(),
        0x0c => "'\\f'".into(),
        b'\n' => "'\\n'".into(),
        b'\r' => "'\\r'".into(),
        b'\t' => "'\\t'".into(),
        0x0b => "'\\v'".into(),
        b'\\' => "'\\\\'".into(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        c if (0x80..=0xa0).contains(&c) || c == 0xad => format!("'\\u{c:04x}'"),
        c => format!("'{}'", char::from(c)),
    }
}

const EOF: &str = "unexpected end of JSON input";

struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

type Scan = Result<(), String>;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, String> {
        let c = self.peek().ok_or_else(|| EOF.to_string())?;
        self.pos += 1;
        Ok(c)
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn invalid(c: u8, context: &str) -> String {
        format!("invalid character {} {context}", quote_char(c))
    }

    fn value(&mut self) -> Scan {
        self.skip_space();
        match self.next()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            c @ (b'-' | b'0'..=b'9') => self.number(c),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            c => Err(Self::invalid(c, "looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Scan {
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_space();
            match self.next()? {
                b'"' => self.string()?,
                c => {
                    return Err(Self::invalid(
                        c,
                        "looking for beginning of object key string",
                    ));
                }
            }
            self.skip_space();
            match self.next()? {
                b':' => {}
                c => return Err(Self::invalid(c, "after object key")),
            }
            self.value()?;
            self.skip_space();
            match self.next()? {
                b',' => {}
                b'}' => return Ok(()),
                c => return Err(Self::invalid(c, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Scan {
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_space();
            match self.next()? {
                b',' => {}
                b']' => return Ok(()),
                c => return Err(Self::invalid(c, "after array element")),
            }
        }
    }

    fn string(&mut self) -> Scan {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let c = self.next()?;
                            if !c.is_ascii_hexdigit() {
                                return Err(Self::invalid(
                                    c,
                                    "in \\u hexadecimal character escape",
                                ));
                            }
                        }
                    }
                    c => return Err(Self::invalid(c, "in string escape code")),
                },
                c if c < 0x20 => return Err(Self::invalid(c, "in string literal")),
                _ => {}
            }
        }
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn number(&mut self, first: u8) -> Scan {
        let first = if first == b'-' {
            match self.next()? {
                c @ b'0'..=b'9' => c,
                c => return Err(Self::invalid(c, "in numeric literal")),
            }
        } else {
            first
        };
        if first != b'0' {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.next()? {
                b'0'..=b'9' => self.digits(),
                c => return Err(Self::invalid(c, "after decimal point in numeric literal")),
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            match self.next()? {
                b'0'..=b'9' => self.digits(),
                c => return Err(Self::invalid(c, "in exponent of numeric literal")),
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Scan {
        for expected in word.bytes().skip(1) {
            let c = self.next()?;
            if c != expected {
                return Err(Self::invalid(
                    c,
                    &format!("in literal {word} (expecting {})", quote_char(expected)),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_worded_as_go_words_them() {
        for (input, expected) in [
            ("{\"a\": 1}", None),
            ("  [1, 2.5e3, \"x\", true, null]  ", None),
            (
                "{not json",
                Some("invalid character 'n' looking for beginning of object key string"),
            ),
            (
                "not",
                Some("invalid character 'o' in literal null (expecting 'u')"),
            ),
            ("{\"a\":1", Some("unexpected end of JSON input")),
            ("", Some("unexpected end of JSON input")),
            ("{\"a\" 1}", Some("invalid character '1' after object key")),
            (
                "{\"a\":1 2}",
                Some("invalid character '2' after object key:value pair"),
            ),
            ("[1 2]", Some("invalid character '2' after array element")),
            ("{} x", Some("invalid character 'x' after top-level value")),
            ("-x", Some("invalid character 'x' in numeric literal")),
            (
                "1.x",
                Some("invalid character 'x' after decimal point in numeric literal"),
            ),
            (
                "\"\\q\"",
                Some("invalid character 'q' in string escape code"),
            ),
            (
                "\u{1}",
                Some("invalid character '\\x01' looking for beginning of value"),
            ),
        ] {
            assert_eq!(
                syntax_error(input.as_bytes()).as_deref(),
                expected,
                "{input}"
            );
        }
        assert_eq!(
            syntax_error(&[0x81]).as_deref(),
            Some("invalid character '\\u0081' looking for beginning of value")
        );
    }
}
