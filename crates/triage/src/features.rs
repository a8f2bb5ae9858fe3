//! Hashed sparse features of a folded text: word unigrams and bigrams plus character 1-3-grams
//! (1-4 for Latin runs would add little over words). Hashing is our own, fixed across platforms
//! and versions, because trained models store the hashed ids.

use crate::text::{Folded, Nlp, Token, TokenKind};

/// Width of the hashed feature space before compaction (2^22 buckets).
pub const HASH_BITS: u32 = 22;

/// A stable 64-bit mixer (splitmix64 finaliser).
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes then mixed: stable string hash.
#[inline]
pub fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

const NS_WORD: u64 = 1;
const NS_BIGRAM: u64 = 2;
const NS_CHAR: u64 = 3;

/// Raw term counts per hashed bucket, sorted by bucket, with sublinear TF (1 + ln tf) applied.
pub fn extract(nlp: &Nlp, folded: &Folded, out: &mut Vec<(u32, f32)>) {
    out.clear();
    let tokens = nlp.tokens(&folded.folded);
    extract_from(&folded.folded, &tokens, out);
}

pub fn extract_from(folded: &str, tokens: &[Token<'_>], out: &mut Vec<(u32, f32)>) {
    let mask = (1u64 << HASH_BITS) - 1;
    let mut raw: Vec<u32> = Vec::with_capacity(tokens.len() * 2 + folded.len());
    let mut prev: Option<u64> = None;
    for t in tokens {
        if t.kind == TokenKind::OtherGram {
            // Already n-grams; character features below cover them.
            prev = None;
            continue;
        }
        let h = hash_str(NS_WORD, t.text);
        raw.push((h & mask) as u32);
        if let Some(p) = prev {
            raw.push((mix(p ^ h.rotate_left(17) ^ NS_BIGRAM) & mask) as u32);
        }
        prev = Some(h);
    }
    // Character 1-3-grams over the folded text; spaces count as a boundary character so that
    // English gets word-edge grams as in sklearn's char analyzer.
    let chars: Vec<u64> = folded.chars().map(|c| u64::from(u32::from(c))).collect();
    for i in 0..chars.len() {
        let a = chars[i];
        if a != u64::from(b' ') {
            raw.push((mix(NS_CHAR << 60 ^ a) & mask) as u32);
        }
        if i + 1 < chars.len() {
            let b = chars[i + 1];
            raw.push((mix((NS_CHAR + 1) << 60 ^ a << 21 ^ b) & mask) as u32);
            if i + 2 < chars.len() {
                let c = chars[i + 2];
                raw.push((mix((NS_CHAR + 2) << 60 ^ a << 42 ^ b << 21 ^ c) & mask) as u32);
            }
        }
    }
    raw.sort_unstable();
    let mut i = 0;
    while i < raw.len() {
        let mut j = i + 1;
        while j < raw.len() && raw[j] == raw[i] {
            j += 1;
        }
        let tf = (j - i) as f32;
        out.push((raw[i], 1.0 + tf.ln()));
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_sorted_unique_and_stable() {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let f = nlp.fold("退款退款 refund please");
        let mut a = Vec::new();
        extract(&nlp, &f, &mut a);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        let mut b = Vec::new();
        extract(&nlp, &nlp.fold("退款退款 REFUND please"), &mut b);
        assert_eq!(a, b);
        assert_eq!(hash_str(1, "abc"), hash_str(1, "abc"));
        assert_ne!(hash_str(1, "abc"), hash_str(2, "abc"));
    }
}
