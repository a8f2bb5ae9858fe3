//! Signed, expiring links in users' messages: whoever holds one may act on that one ticket
//! for its requester (confirm or reject the result, appeal, answer the survey) and nothing
//! else. A token is `<ticket id>.<purpose>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`;
//! the key is made once per installation and kept in the database, so every instance checks
//! every link.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// What a link was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The result message: confirm, reject, appeal.
    Result,
    /// The satisfaction survey.
    Survey,
    /// A periodic NPS question (the id is the question's, not a ticket's).
    Nps,
}

impl Purpose {
    fn code(self) -> &'static str {
        match self {
            Purpose::Result => "r",
            Purpose::Survey => "s",
            Purpose::Nps => "n",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("this link is not one of ours (it may have been cut short when copied)")]
    Malformed,
    #[error("this link's signature does not match")]
    BadSignature,
    #[error("this link expired at {0}")]
    Expired(DateTime<Utc>),
}

pub struct Links {
    /// Keyed once; cloned for each token.
    mac: HmacSha256,
}

impl Links {
    /// The installation's key: made by whichever instance starts first.
    pub async fn load(store: &dyn closedloop_store::Store) -> closedloop_store::Result<Links> {
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let key = store
            .setting("link_key", &URL_SAFE_NO_PAD.encode(fresh))
            .await?;
        let key = URL_SAFE_NO_PAD
            .decode(key.as_bytes())
            .unwrap_or(key.into_bytes());
        Links::from_key(&key).map_err(|_| {
            closedloop_store::StoreError::invalid("link_key", "invalid", "unusable link key")
        })
    }

    /// HMAC takes keys of any length; the error cannot happen but is not hidden either.
    fn from_key(key: &[u8]) -> Result<Links, hmac::digest::InvalidLength> {
        Ok(Links {
            mac: HmacSha256::new_from_slice(key)?,
        })
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        mac
    }

    pub fn sign(&self, ticket_id: i64, purpose: Purpose, expires: DateTime<Utc>) -> String {
        let payload = format!("{ticket_id}.{}.{}", purpose.code(), expires.timestamp());
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// The ticket (the NPS question for [`Purpose::Nps`]) and purpose of a valid, unexpired
    /// token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<(i64, Purpose), LinkError> {
        let (payload, sig) = token.rsplit_once('.').ok_or(LinkError::Malformed)?;
        let mut parts = payload.split('.');
        let (Some(id), Some(purpose), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkError::Malformed);
        };
        let id: i64 = id.parse().map_err(|_| LinkError::Malformed)?;
        let purpose = match purpose {
            "r" => Purpose::Result,
            "s" => Purpose::Survey,
            "n" => Purpose::Nps,
            _ => return Err(LinkError::Malformed),
        };
        let exp: i64 = exp.parse().map_err(|_| LinkError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkError::Malformed)?;
        // Constant-time comparison.
        self.mac(payload)
            .verify_slice(&sig)
            .map_err(|_| LinkError::BadSignature)?;
        let expires = DateTime::from_timestamp(exp, 0).ok_or(LinkError::Malformed)?;
        if now > expires {
            return Err(LinkError::Expired(expires));
        }
        Ok((id, purpose))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::Duration;

    impl Links {
        fn with_key(key: &[u8]) -> Links {
            Links::from_key(key).expect("any key")
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let links = Links::with_key(b"k");
        let now = Utc::now();
        let t = links.sign(42, Purpose::Result, now + Duration::days(7));
        assert_eq!(links.verify(&t, now), Ok((42, Purpose::Result)));
        assert!(matches!(
            links.verify(&t, now + Duration::days(8)),
            Err(LinkError::Expired(_))
        ));
    }

    #[test]
    fn tampering_is_refused() {
        let links = Links::with_key(b"k");
        let now = Utc::now();
        let t = links.sign(42, Purpose::Survey, now + Duration::days(7));
        // Another ticket, another purpose, a later expiry: each breaks the signature.
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(links.verify(&forged, now), Err(LinkError::BadSignature));
        let forged = t.replacen(".s.", ".r.", 1);
        assert_eq!(links.verify(&forged, now), Err(LinkError::BadSignature));
        let other = Links::with_key(b"other");
        assert_eq!(other.verify(&t, now), Err(LinkError::BadSignature));
        assert_eq!(links.verify("42.r", now), Err(LinkError::Malformed));
        assert_eq!(
            links.verify(&t[..t.len() - 3], now),
            Err(LinkError::BadSignature)
        );
    }
}
