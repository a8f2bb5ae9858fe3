//! Uploaded evidence: the type is sniffed from the bytes (never the client's `Content-Type` or
//! file name), files are kept on disk by content hash, and they are served so that no browser
//! runs them.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use closedloop_store::Attachment;
use sha2::{Digest, Sha256};

/// At most this many files per submission.
pub const MAX_FILES: usize = 5;

/// The type of `bytes` when it is one we accept: PNG, JPEG, GIF, WebP, PDF or plain UTF-8 text
/// that is not markup. Nothing a browser would execute (HTML, SVG, XML) is ever accepted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if is_plain_text(bytes) {
        Some("text/plain; charset=utf-8")
    } else {
        None
    }
}

/// UTF-8 without control characters (but line breaks, tabs and form feeds), and nothing that a
/// browser's sniffer could take for HTML or XML.
fn is_plain_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    {
        return false;
    }
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with('<') {
        return false;
    }
    let lower = text.to_lowercase();
    ![
        "<script",
        "<html",
        "<svg",
        "<!doctype",
        "<iframe",
        "<body",
        "<?xml",
        "<head",
        "<object",
        "<embed",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

/// The file's name without any path, with only letters, digits, `.`, `-`, `_` and spaces kept
/// (others become `_`), at most 100 characters; `file` when nothing is left.
pub fn sanitise_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Hex SHA-256 of the content.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `<dir>/ab/cd/<sha256>`; `None` for anything that is not a hex digest.
pub fn path_of(dir: &Path, sha256: &str) -> Option<PathBuf> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(
        dir.join(sha256.get(0..2)?)
            .join(sha256.get(2..4)?)
            .join(sha256),
    )
}

/// Writes the content under its hash unless it is already there (written to a temporary name
/// first, then renamed, so a reader never sees half a file).
pub async fn save(dir: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = path_of(dir, sha256).ok_or_else(|| std::io::Error::other("not a digest"))?;
    if tokio::fs::try_exists(&path).await? {
        return Ok(());
    }
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    tokio::fs::create_dir_all(parent).await?;
    let tmp = parent.join(format!(".{sha256}.{}", rand::random::<u64>()));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await
}

/// Deletes a stored file for good; one already gone is fine (erasure is retried).
pub async fn remove(dir: &Path, sha256: &str) -> std::io::Result<()> {
    let path = path_of(dir, sha256).ok_or_else(|| std::io::Error::other("not a digest"))?;
    match tokio::fs::remove_file(&path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The stored file as a download that no browser renders as a page: the sniffed type,
/// `nosniff`, a sandboxing CSP, and `attachment` for everything but images.
pub async fn serve(dir: &Path, a: &Attachment) -> Response {
    let Some(path) = path_of(dir, &a.sha256) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "attachment missing on disk");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    // Only types we sniffed ourselves are ever sent; anything else in the row goes out as bytes.
    let content_type = match sniff(&bytes) {
        Some(t) if t == a.content_type => t,
        _ => "application/octet-stream",
    };
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(disposition, &a.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// `inline; filename="ascii"; filename*=UTF-8''percent-encoded`.
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff("订单号 123\n".as_bytes()),
            Some("text/plain; charset=utf-8")
        );
        for bad in [
            &b"<html><script>alert(1)</script>"[..],
            b"  <svg onload=alert(1)>",
            b"hello <script>x</script>",
            b"\x00\x01binary",
            b"",
        ] {
            assert_eq!(sniff(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn filenames_lose_paths_and_odd_characters() {
        assert_eq!(sanitise_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_filename("C:\\x\\截图 1.png"), "截图 1.png");
        assert_eq!(sanitise_filename("a\"b;c.png"), "a_b_c.png");
        assert_eq!(sanitise_filename("..."), "file");
    }

    #[test]
    fn disposition_is_header_safe() {
        let d = content_disposition("attachment", "截图\".pdf");
        assert!(d.is_ascii(), "{d}");
        assert!(HeaderValue::from_str(&d).is_ok());
    }

    #[test]
    fn paths_only_for_digests() {
        let d = digest(b"x");
        let p = path_of(Path::new("/a"), &d).map(|p| p.display().to_string());
        assert_eq!(p, Some(format!("/a/{}/{}/{d}", &d[0..2], &d[2..4])));
        assert_eq!(path_of(Path::new("/a"), "../x"), None);
    }
}
