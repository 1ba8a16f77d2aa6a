//! The lexer of label selectors, as apimachinery's `labels` package scans them.

/// A token of a label selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// Something that is not a token (its literal is the message).
    Error,
    /// The end of the selector.
    End,
    /// `)`.
    ClosedPar,
    /// `,`.
    Comma,
    /// `!`.
    DoesNotExist,
    /// `==`.
    DoubleEquals,
    /// `=`.
    Equals,
    /// `>`.
    GreaterThan,
    /// A key or value.
    Identifier,
    /// `in`.
    In,
    /// `<`.
    LessThan,
    /// `!=`.
    NotEquals,
    /// `notin`.
    NotIn,
    /// `(`.
    OpenPar,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Every token of `text`, up to and including the end (or the first error).
pub fn tokens(text: &str) -> Vec<(Token, String)> {
    let b = text.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_space(b[pos]) {
            pos += 1;
        }
        if pos == b.len() {
            out.push((Token::End, String::new()));
            return out;
        }
        let start = pos;
        if is_special(b[pos]) {
            let mut last: Option<(Token, usize)> = None;
            while pos < b.len() && is_special(b[pos]) {
                match keyword(&text[start..=pos]) {
                    Some(t) => last = Some((t, pos + 1)),
                    None if last.is_some() => break,
                    None => {}
                }
                pos += 1;
            }
            match last {
                Some((t, end)) => {
                    pos = end;
                    out.push((t, text[start..end].to_string()));
                }
                None => {
                    out.push((
                        Token::Error,
                        format!("error expected: keyword found '{}'", &text[start..pos]),
                    ));
                    return out;
                }
            }
        } else {
            while pos < b.len() && !is_space(b[pos]) && !is_special(b[pos]) {
                pos += 1;
            }
            let word = &text[start..pos];
            out.push((keyword(word).unwrap_or(Token::Identifier), word.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_scanned_greedily() {
        let kinds: Vec<Token> = tokens("a===b != (c),!d notin")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(
            kinds,
            vec![
                Token::Identifier,
                Token::DoubleEquals,
                Token::Equals,
                Token::Identifier,
                Token::NotEquals,
                Token::OpenPar,
                Token::Identifier,
                Token::ClosedPar,
                Token::Comma,
                Token::DoesNotExist,
                Token::Identifier,
                Token::NotIn,
                Token::End,
            ]
        );
    }
}
