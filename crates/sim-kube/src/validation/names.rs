//! The name rules of apimachinery's `validation` package, with its messages: RFC 1123 labels
//! and subdomains, qualified names (label and annotation keys), label values and config keys.

/// Longest RFC 1123 label.
const DNS1123_LABEL_MAX: usize = 63;
/// Longest RFC 1123 subdomain.
const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Longest name part of a qualified name, and longest label value.
const QUALIFIED_NAME_MAX: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `msg` with examples and the regex, as apimachinery's `RegexError` words it.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn max_len_chars(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn max_len_bytes(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Whether `s` matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn matches_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// Whether `s` is dot-separated RFC 1123 labels.
fn matches_subdomain(s: &str) -> bool {
    s.split('.').all(matches_label)
}

/// Whether `s` matches the qualified name regex (alphanumeric ends, `-_.` inside).
fn matches_qualified(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsDNS1123Label`.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_chars(DNS1123_LABEL_MAX));
    }
    if !matches_label(value) {
        if matches_subdomain(value) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_chars(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_subdomain(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// How object names are checked (`NameIsDNSLabel`, `NameIsDNSSubdomain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// An RFC 1123 label (Namespaces).
    Label,
    /// An RFC 1123 subdomain (most kinds).
    Subdomain,
}

impl NameRule {
    /// The problems of `name`; a `prefix` (a generateName) may end with `-`.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.len() > 1 && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            Self::Label => dns1123_label(name),
            Self::Subdomain => dns1123_subdomain(name),
        }
    }
}

/// `IsQualifiedName`: label keys and (lower-cased) annotation keys.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "{} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    &format!("a valid label key {QUALIFIED_NAME_MSG}"),
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errs.push(format!("name part {}", max_len_bytes(QUALIFIED_NAME_MAX)));
    }
    if !matches_qualified(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > QUALIFIED_NAME_MAX {
        errs.push(max_len_bytes(QUALIFIED_NAME_MAX));
    }
    if !value.is_empty() && !matches_qualified(value) {
        errs.push(regex_error(
            &format!("a valid label must be an empty string or {QUALIFIED_NAME_MSG}"),
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsConfigMapKey`: keys of ConfigMap and Secret data.
pub fn config_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_chars(DNS1123_SUBDOMAIN_MAX));
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    match value {
        "." => errs.push("must not be '.'".into()),
        ".." => errs.push("must not be '..'".into()),
        v if v.starts_with("..") => errs.push("must not start with '..'".into()),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_1123() {
        for (name, rule, prefix, errors) in [
            ("default", NameRule::Label, false, 0),
            ("has.dots", NameRule::Label, false, 1),
            ("Bad_Name", NameRule::Label, false, 1),
            ("a.b-c", NameRule::Subdomain, false, 0),
            ("Bad.Name", NameRule::Subdomain, false, 1),
            ("gen-", NameRule::Subdomain, true, 0),
            ("gen-", NameRule::Subdomain, false, 1),
            ("", NameRule::Subdomain, false, 1),
        ] {
            assert_eq!(rule.check(name, prefix).len(), errors, "{name}");
        }
        assert_eq!(dns1123_label("has.dots"), vec!["must not contain dots"]);
        assert_eq!(
            dns1123_label(&"a".repeat(64))[0],
            "must be no more than 63 characters"
        );
    }

    #[test]
    fn label_keys_and_values_are_worded_as_the_api_server_words_them() {
        for (key, first) in [
            ("app", None),
            ("example.com/app", None),
            ("/x", Some("prefix part must be non-empty")),
            (
                "bad key",
                Some("name part must consist of alphanumeric characters"),
            ),
            ("a/b/c", Some("a valid label key must consist")),
            (
                "Ex.com/y",
                Some("prefix part a lowercase RFC 1123 subdomain"),
            ),
        ] {
            let errs = qualified_name(key);
            match first {
                None => assert!(errs.is_empty(), "{key}: {errs:?}"),
                Some(f) => assert!(errs[0].starts_with(f), "{key}: {errs:?}"),
            }
        }
        assert_eq!(
            qualified_name(&"a".repeat(70)),
            vec!["name part must be no more than 63 bytes"]
        );
        assert!(label_value("").is_empty());
        assert_eq!(
            label_value(&"a".repeat(64)),
            vec!["must be no more than 63 bytes"]
        );
        assert_eq!(label_value("-x").len(), 1);
    }

    #[test]
    fn config_keys_refuse_slashes_and_dot_prefixes() {
        for (key, errors) in [
            ("k", 0),
            ("a/b", 1),
            (".", 1),
            ("..", 1),
            ("..x", 1),
            (".x", 0),
        ] {
            assert_eq!(config_key(key).len(), errors, "{key}");
        }
        assert!(config_key("a/b")[0].starts_with("a valid config key must consist"));
    }
}
