//! Personal data in free text: where it is, what kind, and the text with it masked.
//!
//! Public channels (social comments, reviews) bring phone numbers, ID numbers and addresses into
//! tickets that many people read. This crate finds them in Chinese and English text. Numbers
//! that carry a check digit (resident IDs, bank cards, Hong Kong and Taiwan IDs) are only
//! reported when it is right, and numbers next to words like "订单号" or "order" are taken for
//! what they say they are, so order and tracking numbers that look like phones stay readable.

pub mod checks;
mod detect;
mod erase;
mod mask;
pub mod sample;

use std::ops::Range;

pub use detect::find;
pub use erase::{Known, erase};
pub use mask::{Masked, mask, mask_value};

/// What a piece of personal data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CnMobile,
    CnLandline,
    CnId,
    BankCard,
    Email,
    HkId,
    TwId,
    IntlPhone,
    Address,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::CnMobile,
        Kind::CnLandline,
        Kind::CnId,
        Kind::BankCard,
        Kind::Email,
        Kind::HkId,
        Kind::TwId,
        Kind::IntlPhone,
        Kind::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CnMobile => "cn_mobile",
            Kind::CnLandline => "cn_landline",
            Kind::CnId => "cn_id",
            Kind::BankCard => "bank_card",
            Kind::Email => "email",
            Kind::HkId => "hk_id",
            Kind::TwId => "tw_id",
            Kind::IntlPhone => "intl_phone",
            Kind::Address => "address",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One piece of personal data: its kind and where it is (byte offsets into the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub range: Range<usize>,
}
