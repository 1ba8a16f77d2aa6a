//! OData `$filter` as Graph evaluates it on directory objects: comparisons (`eq`, `ne`),
//! `startswith`/`endswith`, `not`, `and`, `or` and parentheses over string, boolean and `null`
//! literals. String comparisons ignore case, as the directory does. Which operators need the
//! advanced query parameters (`ConsistencyLevel: eventual` and `$count=true`) follows Learn's
//! "Advanced query capabilities on Microsoft Entra ID objects".

use serde_json::Value;

/// A literal on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Lit {
    /// `'text'` (or an unquoted GUID or number, compared as text).
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed `$filter` expression.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    /// `property eq literal` (`ne` when `negated`).
    Cmp {
        property: String,
        negated: bool,
        value: Lit,
    },
    /// `startswith(property,'text')` or `endswith(...)` (`ends`).
    Affix {
        property: String,
        ends: bool,
        text: String,
    },
    /// `not expr`.
    Not(Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
}

fn tokens(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err("unterminated string literal".into()),
                    }
                }
                out.push(Token::Text(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if " \t(),'".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// Parses a `$filter` (an error names what is wrong).
pub(super) fn parse(filter: &str) -> Result<Expr, String> {
    let tokens = tokens(filter)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, k: &str) -> bool {
        let hit =
            matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k));
        if hit {
            self.at += 1;
        }
        hit
    }

    fn expect(&mut self, t: Token) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let e = self.or()?;
                self.expect(Token::Close)?;
                Ok(e)
            }
            Some(Token::Word(w)) if self.tokens.get(self.at) == Some(&Token::Open) => {
                let ends = match w.to_ascii_lowercase().as_str() {
                    "startswith" => false,
                    "endswith" => true,
                    _ => return Err(format!("unsupported function '{w}'")),
                };
                self.expect(Token::Open)?;
                let Some(Token::Word(property)) = self.next() else {
                    return Err("expected a property".into());
                };
                self.expect(Token::Comma)?;
                let Some(Token::Text(text)) = self.next() else {
                    return Err("expected a string literal".into());
                };
                self.expect(Token::Close)?;
                Ok(Expr::Affix {
                    property,
                    ends,
                    text,
                })
            }
            Some(Token::Word(property)) => {
                let negated = if self.keyword("eq") {
                    false
                } else if self.keyword("ne") {
                    true
                } else {
                    return Err(format!("unsupported operator after '{property}'"));
                };
                let value = match self.next() {
                    Some(Token::Text(t)) => Lit::Str(t),
                    Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Lit::Bool(true),
                        "false" => Lit::Bool(false),
                        "null" => Lit::Null,
                        _ => Lit::Str(w),
                    },
                    other => return Err(format!("expected a literal, found {other:?}")),
                };
                Ok(Expr::Cmp {
                    property,
                    negated,
                    value,
                })
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// The property `name` of `object`, ignoring case.
fn property<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl Expr {
    /// Whether `object` (Graph's JSON of it) passes.
    pub(super) fn matches(&self, object: &Value) -> bool {
        match self {
            Expr::Cmp {
                property: p,
                negated,
                value,
            } => {
                let actual = property(object, p).unwrap_or(&Value::Null);
                let equal = match value {
                    Lit::Str(s) => actual.as_str().is_some_and(|a| a.eq_ignore_ascii_case(s)),
                    Lit::Bool(b) => actual.as_bool() == Some(*b),
                    Lit::Null => actual.is_null(),
                };
                equal != *negated
            }
            Expr::Affix {
                property: p,
                ends,
                text,
            } => property(object, p)
                .and_then(Value::as_str)
                .is_some_and(|a| {
                    let (a, t) = (a.to_lowercase(), text.to_lowercase());
                    if *ends {
                        a.ends_with(&t)
                    } else {
                        a.starts_with(&t)
                    }
                }),
            Expr::Not(e) => !e.matches(object),
            Expr::And(a, b) => a.matches(object) && b.matches(object),
            Expr::Or(a, b) => a.matches(object) || b.matches(object),
        }
    }

    /// Every property the expression names.
    pub(super) fn properties(&self) -> Vec<&str> {
        match self {
            Expr::Cmp { property, .. } | Expr::Affix { property, .. } => vec![property],
            Expr::Not(e) => e.properties(),
            Expr::And(a, b) | Expr::Or(a, b) => [a.properties(), b.properties()].concat(),
        }
    }

    /// The first operator that only advanced queries support (`ne`, `not`, `endsWith`).
    pub(super) fn advanced_operator(&self) -> Option<&'static str> {
        match self {
            Expr::Cmp { negated: true, .. } => Some("ne"),
            Expr::Affix { ends: true, .. } => Some("endsWith"),
            Expr::Not(_) => Some("not"),
            Expr::And(a, b) | Expr::Or(a, b) => a.advanced_operator().or(b.advanced_operator()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    #[rustfmt::skip]
    fn filters_match_directory_objects() {
        let ada = json!({"displayName": "Ada Lovelace", "userPrincipalName": "ada@contoso.com", "accountEnabled": true, "mail": null});
        for (filter, expected) in [
            ("accountEnabled eq true", true),
            ("accountEnabled eq false", false),
            ("userPrincipalName eq 'ADA@contoso.com'", true),
            ("startswith(displayName,'ada')", true),
            ("startsWith(displayName, 'Grace')", false),
            ("endswith(userPrincipalName,'@contoso.com')", true),
            ("accountEnabled eq true and startswith(displayName,'Ada')", true),
            ("displayName eq 'x' or displayName eq 'Ada Lovelace'", true),
            ("not (displayName eq 'Ada Lovelace')", false),
            ("displayName ne 'Grace'", true),
            ("mail eq null", true),
            ("(accountEnabled eq true) and (mail ne null)", false),
            ("displayName eq 'O''Neil'", false),
        ] {
            assert_eq!(parse(filter).unwrap().matches(&ada), expected, "{filter}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn filters_name_properties_and_advanced_operators() {
        for (filter, properties, advanced) in [
            ("accountEnabled eq true", vec!["accountEnabled"], None),
            ("startswith(displayName,'x') and mail eq 'y'", vec!["displayName", "mail"], None),
            ("displayName ne 'x'", vec!["displayName"], Some("ne")),
            ("endswith(mail,'@x.com')", vec!["mail"], Some("endsWith")),
            ("not startswith(displayName,'x')", vec!["displayName"], Some("not")),
        ] {
            let e = parse(filter).unwrap();
            assert_eq!((e.properties(), e.advanced_operator()), (properties, advanced), "{filter}");
        }
    }

    #[test]
    fn malformed_filters_are_refused() {
        for filter in [
            "displayName gt 'x'",
            "startswith(displayName)",
            "displayName eq 'x",
            "(displayName eq 'x'",
            "contains(displayName,'x')",
            "displayName eq 'x' extra",
        ] {
            assert!(parse(filter).is_err(), "{filter}");
        }
    }
}
