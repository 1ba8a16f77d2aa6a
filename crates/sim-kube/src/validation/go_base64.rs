//! Base64 as Go's `encoding/base64.StdEncoding` decodes it, with its errors: kube-apiserver
//! answers `illegal base64 data at input byte N` for Secret data that is not base64.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Go's decoders accept non-zero bits after the last full byte.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_NO_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Whether `c` is in the alphabet (`url`: URL-safe, else standard).
fn in_alphabet(c: u8, url: bool) -> bool {
    c.is_ascii_alphanumeric()
        || if url {
            c == b'-' || c == b'_'
        } else {
            c == b'+' || c == b'/'
        }
}

/// The offset Go reports for `input` that is not base64 with padding (newlines ignored as Go
/// ignores them), `None` when it decodes.
fn padded_error(input: &[u8]) -> Option<usize> {
    let mut si = 0;
    loop {
        let mut j = 0;
        while j < 4 {
            if si == input.len() {
                return match j {
                    0 => None,
                    _ => Some(si - j),
                };
            }
            let c = input[si];
            si += 1;
            if in_alphabet(c, false) {
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' || j < 2 {
                return Some(si - 1);
            }
            if j == 2 {
                while si < input.len() && matches!(input[si], b'\n' | b'\r') {
                    si += 1;
                }
                if si == input.len() {
                    return Some(input.len());
                }
                if input[si] != b'=' {
                    return Some(si - 1);
                }
                si += 1;
            }
            while si < input.len() && matches!(input[si], b'\n' | b'\r') {
                si += 1;
            }
            return (si < input.len()).then_some(si);
        }
    }
}

/// Decodes `text` as Go's `StdEncoding` does; `Err` holds Go's message.
pub fn decode_std(text: &str) -> Result<Vec<u8>, String> {
    if let Some(at) = padded_error(text.as_bytes()) {
        return Err(format!("illegal base64 data at input byte {at}"));
    }
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b'\n' | b'\r'))
        .collect();
    STANDARD
        .decode(clean)
        .map_err(|_| "illegal base64 data at input byte 0".to_string())
}

/// Decodes `text` as Go's `RawURLEncoding` does (continue tokens); `Err` holds Go's message.
pub fn decode_raw_url(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if !in_alphabet(c, true) && c != b'\n' && c != b'\r' {
            return Err(format!("illegal base64 data at input byte {i}"));
        }
    }
    let clean: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|c| !matches!(c, b'\n' | b'\r'))
        .collect();
    if clean.len() % 4 == 1 {
        return Err(format!(
            "illegal base64 data at input byte {}",
            bytes.len() - 1
        ));
    }
    URL_SAFE_NO_PAD
        .decode(clean)
        .map_err(|_| format!("illegal base64 data at input byte {}", bytes.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_byte_go_names() {
        for (input, expected) in [
            ("dg==", Ok(b"v".to_vec())),
            ("dmFs", Ok(b"val".to_vec())),
            ("", Ok(Vec::new())),
            ("not base64!", Err(3)),
            ("YQ", Err(0)),
            ("YWJ", Err(0)),
            ("Y===", Err(1)),
            ("YQ=", Err(3)),
            ("YQ==YQ==", Err(4)),
            ("YQ=x", Err(2)),
        ] {
            let expected = expected.map_err(|at| format!("illegal base64 data at input byte {at}"));
            assert_eq!(decode_std(input), expected, "{input}");
        }
    }

    #[test]
    fn url_tokens_without_padding_decode() {
        assert_eq!(decode_raw_url("eyJ2Ijo"), Ok(b"{\"v\":".to_vec()));
        assert_eq!(
            decode_raw_url("a"),
            Err("illegal base64 data at input byte 0".into())
        );
        assert_eq!(
            decode_raw_url("ab!c"),
            Err("illegal base64 data at input byte 2".into())
        );
        assert_eq!(decode_raw_url("garbage").map(|b| b[0]), Ok(0x81));
    }
}
