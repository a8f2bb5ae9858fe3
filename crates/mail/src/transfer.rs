//! Lenient content-transfer decoding of a part's raw bytes, used when a part has to be decoded
//! again with another charset. Bad escapes are kept literally, stray characters in base64 skipped.

use mail_parser::Encoding;

pub(crate) fn decode(raw: &[u8], encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::None => raw.to_vec(),
        Encoding::QuotedPrintable => quoted_printable(raw),
        Encoding::Base64 => base64(raw),
    }
}

pub(crate) fn quoted_printable(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'=' {
            // Soft line break: "=" followed by optional white space and a line end.
            let mut j = i + 1;
            while j < raw.len() && (raw[j] == b' ' || raw[j] == b'\t') {
                j += 1;
            }
            if j < raw.len() && (raw[j] == b'\r' || raw[j] == b'\n') {
                if raw[j] == b'\r' && raw.get(j + 1) == Some(&b'\n') {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            if j == raw.len() {
                break;
            }
            if let (Some(h), Some(l)) = (
                raw.get(i + 1).and_then(|c| hex(*c)),
                raw.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Base64 that skips every byte outside the alphabet and stops at the first `=`.
pub(crate) fn base64(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in raw {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_keeps_bad_escapes() {
        assert_eq!(
            quoted_printable(b"a=3Db=\r\nc =ZZ d=\n=E4"),
            b"a=bc =ZZ d\xE4"
        );
    }

    #[test]
    fn base64_skips_noise_and_missing_padding() {
        assert_eq!(base64(b"SGVs\r\nbG8"), b"Hello");
        assert_eq!(base64(b"SGV!!sbG8=\r\nxx"), b"Hello");
    }
}
