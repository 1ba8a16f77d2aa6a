//! Label selectors, parsed as apimachinery's `labels.Parse` parses them, with its messages.

use serde_json::Value;

use super::label_lexer::{Token, tokens};
use crate::validation::field::FieldError;
use crate::validation::names;

/// The operator of one requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One requirement of a label selector: a key, an operator and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

/// A parsed label selector (every requirement must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Which tokens count as identifiers: in values, `in` and `notin` are plain words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn lookahead(&self, ctx: Context) -> (Token, String) {
        let (mut t, lit) = self.items[self.pos.min(self.items.len() - 1)].clone();
        if ctx == Context::Values && matches!(t, Token::In | Token::NotIn) {
            t = Token::Identifier;
        }
        (t, lit)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let item = self.lookahead(ctx);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        loop {
            let (t, lit) = self.lookahead(Context::Values);
            match t {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    out.push(r);
                    let (t, lit) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(out),
                        Token::Comma => {
                            let (t2, lit2) = self.lookahead(Context::Values);
                            if !matches!(t2, Token::Identifier | Token::DoesNotExist) {
                                return Err(format!(
                                    "found '{lit2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!("found '{lit}', expected: ',' or 'end of string'"));
                        }
                    }
                }
                Token::End => return Ok(out),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.key_and_inferred_operator()?;
        if let Some(op) = op {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.operator()?;
        let values = match op {
            Op::In | Op::NotIn => self.set_values()?,
            _ => self.exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<Op>), String> {
        let (mut t, mut lit) = self.consume(Context::Values);
        let mut op = None;
        if t == Token::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (t, lit) = self.consume(Context::Values);
        }
        if t != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // The parser has no field path here; Go prints the missing one as `<nil>`.
        if let Some(e) = key_error(&lit, "<nil>") {
            return Err(e.message());
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::End | Token::Comma) && op.is_none() {
            op = Some(Op::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> Result<Op, String> {
        let (t, lit) = self.consume(Context::KeyAndOperator);
        Ok(match t {
            Token::In => Op::In,
            Token::Equals | Token::DoubleEquals => Op::Equals,
            Token::GreaterThan => Op::GreaterThan,
            Token::LessThan => Op::LessThan,
            Token::NotIn => Op::NotIn,
            Token::NotEquals => Op::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn set_values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.consume(Context::Values);
        if t != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.lookahead(Context::Values);
        match t {
            Token::Identifier | Token::Comma => {
                let values = self.identifiers()?;
                let (t, _) = self.consume(Context::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: String| {
            if !set.contains(&v) {
                set.push(v);
            }
        };
        loop {
            let (t, lit) = self.consume(Context::Values);
            match t {
                Token::Identifier => {
                    insert(&mut set, lit);
                    let (t2, lit2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => break,
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        insert(&mut set, String::new());
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Token::ClosedPar {
                        insert(&mut set, String::new());
                        break;
                    }
                    if t2 == Token::Comma {
                        self.consume(Context::Values);
                        insert(&mut set, String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
        set.sort();
        Ok(set)
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.lookahead(Context::Values);
        if matches!(t, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.consume(Context::Values);
        if t == Token::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

/// The problem of a label key, as `validateLabelKey` reports it at `path`.
fn key_error(key: &str, path: &str) -> Option<FieldError> {
    let errs = names::qualified_name(key);
    (!errs.is_empty()).then(|| FieldError::invalid(path, key, &errs.join("; ")))
}

/// `NewRequirement`: the requirement, or the aggregate of its problems.
fn new_requirement(key: String, op: Op, values: Vec<String>) -> Result<Requirement, String> {
    let mut errors = Vec::new();
    errors.extend(key_error(&key, "key"));
    let bad_count = |detail: &str| FieldError::invalid("values", values.join(","), detail);
    match op {
        Op::In | Op::NotIn if values.is_empty() => {
            errors.push(bad_count(
                "for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        Op::Equals | Op::NotEquals if values.len() != 1 => {
            errors.push(bad_count(
                "exact-match compatibility requires one single value",
            ));
        }
        Op::GreaterThan | Op::LessThan => {
            if values.len() != 1 {
                errors.push(bad_count(
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errors.push(FieldError::invalid(
                        format!("values[{i}]"),
                        v.as_str(),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        let errs = names::label_value(v);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(
                format!("values[{i}][{key}]"),
                v.as_str(),
                &errs.join("; "),
            ));
        }
    }
    match errors.len() {
        0 => Ok(Requirement { key, op, values }),
        1 => Err(errors[0].message()),
        _ => Err(format!(
            "[{}]",
            errors
                .iter()
                .map(FieldError::message)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

impl LabelSelector {
    /// Parses a selector; an empty string selects everything. `Err` holds the message
    /// kube-apiserver answers with.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser {
            items: tokens(text),
            pos: 0,
        };
        parser.parse().map(Self)
    }

    /// Whether `object`'s labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| {
            let v = get(&r.key);
            let listed = |x: &str| r.values.iter().any(|w| w == x);
            let compare = |f: fn(i64, i64) -> bool| {
                let bound = r.values.first().and_then(|b| b.parse::<i64>().ok());
                match (v.and_then(|x| x.parse::<i64>().ok()), bound) {
                    (Some(x), Some(b)) => f(x, b),
                    _ => false,
                }
            };
            match r.op {
                Op::Equals | Op::In => v.is_some_and(listed),
                Op::NotEquals | Op::NotIn => v.is_none_or(|x| !listed(x)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::GreaterThan => compare(|x, b| x > b),
                Op::LessThan => compare(|x, b| x < b),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_cover_every_operator() {
        let obj = json!({"metadata": {"labels": {"app": "exo", "tier": "back", "n": "5"}}});
        for (selector, expected) in [
            ("", true),
            ("app=exo", true),
            ("app==exo,tier=back", true),
            ("app!=exo", false),
            ("tier in (front, back)", true),
            ("tier notin (back)", false),
            ("app", true),
            ("!app", false),
            ("missing", false),
            ("!missing", true),
            ("n>4", true),
            ("n<4", false),
            ("missing notin ()", true),
            ("in in (in)", false),
        ] {
            assert_eq!(
                LabelSelector::parse(selector).unwrap().matches(&obj),
                expected,
                "{selector}"
            );
        }
    }

    #[test]
    fn parse_errors_are_worded_as_kube_apiserver_words_them() {
        for (selector, message) in [
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "tier===a",
                "unable to parse requirement: found '=', expected: identifier",
            ),
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                "a>x",
                "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("a,", "found '', expected: identifier after ','"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "a=(b)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
        ] {
            assert_eq!(
                LabelSelector::parse(selector),
                Err(message.to_string()),
                "{selector}"
            );
        }
        assert!(LabelSelector::parse("a in (b,,c)").is_ok());
    }
}
