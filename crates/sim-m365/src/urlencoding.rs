//! Percent-encoding of single URL or form values (as `application/x-www-form-urlencoded`
//! writes them).

use std::collections::HashMap;

/// Decodes one percent-encoded value (`+` is a space).
pub fn decode(value: &str) -> Option<String> {
    serde_urlencoded::from_str::<HashMap<String, String>>(&format!("v={value}"))
        .ok()?
        .remove("v")
}

/// Encodes one value for a query string.
pub fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}
