//! Identifiers, parsed once at the edge of the system ("parse, don't validate").
//!
//! Account, tenant and user ids are a short type prefix and 16 lowercase hex digits
//! (`usr_0f3a…`). Credential key ids are defined by [`crate::credential`]. Email addresses are
//! validated and normalised here.

use crate::random::{self, RandomSource};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The string is not a `kind` id.
    #[error("`{value}` is not a valid {kind} id")]
    Malformed {
        /// What kind of id was expected.
        kind: &'static str,
        /// The rejected input, shortened.
        value: String,
    },
}

/// Shortens untrusted input before it is echoed in an error message.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    } else {
        let head: String = value
            .chars()
            .take(MAX)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        format!("{head}…")
    }
}

const ID_HEX_DIGITS: usize = 16;

/// Bytes of a prefixed id: a four-character prefix and [`ID_HEX_DIGITS`] lowercase hex digits.
const ID_BYTES: usize = 4 + ID_HEX_DIGITS;

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        ///
        /// Held inline (ASCII, fixed length): a clone is a copy of its bytes, never an
        /// allocation, which keeps the account's maps cheap to change.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; ID_BYTES]);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            const PREFIX_FITS: () = assert!($prefix.len() + ID_HEX_DIGITS == ID_BYTES);

            /// A fresh random id.
            pub fn generate(random: &mut dyn RandomSource) -> Self {
                let () = Self::PREFIX_FITS;
                let bytes: [u8; ID_HEX_DIGITS / 2] = random::bytes(random);
                let mut id = [0u8; ID_BYTES];
                let hex = bytes.iter().flat_map(|byte| {
                    [byte >> 4, byte & 0x0f].map(|digit| {
                        b"0123456789abcdef".get(usize::from(digit)).copied().unwrap_or(b'0')
                    })
                });
                for (slot, byte) in id.iter_mut().zip(Self::PREFIX.bytes().chain(hex)) {
                    *slot = byte;
                }
                Self(id)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII is ever stored (see `from_str` and `generate`).
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                let valid = value.strip_prefix(Self::PREFIX).is_some_and(|hex| {
                    hex.len() == ID_HEX_DIGITS
                        && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                });
                match <[u8; ID_BYTES]>::try_from(value.as_bytes()) {
                    Ok(bytes) if valid => Ok(Self(bytes)),
                    _ => Err(IdError::Malformed { kind: $kind, value: excerpt(value) }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

prefixed_id!(
    /// The id of an account (a company).
    AccountId, "acc_", "account"
);
prefixed_id!(
    /// The id of a user. Stable for the user's whole life; the email never changes either.
    UserId, "usr_", "user"
);
prefixed_id!(
    /// The id of a tenant.
    TenantId, "ten_", "tenant"
);
prefixed_id!(
    /// The id of a notification in an account's outbox; receivers deduplicate on it.
    NotificationId, "ntf_", "notification"
);
prefixed_id!(
    /// The id of a bulk lifecycle report, kept in the account so it can be read again.
    BulkReportId, "blk_", "bulk report"
);
prefixed_id!(
    /// The id of an identity-provider connection of an account (see [`crate::sso`]).
    SsoConnectionId, "sso_", "SSO connection"
);

pub use crate::credential::KeyId;

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Not of the form `local@domain` with acceptable characters.
    #[error("`{0}` is not a valid email address")]
    Malformed(String),
    /// Longer than 254 characters.
    #[error("email address is longer than 254 characters")]
    TooLong,
    /// Contains characters outside ASCII.
    #[error("`{0}` contains non-ASCII characters; only ASCII email addresses are accepted")]
    NotAscii(String),
}

/// A validated, normalised (lowercase, trimmed) ASCII email address.
///
/// Addresses are compared case-insensitively by normalising once on parse: `Ana@Example.COM`
/// and `ana@example.com` are the same user.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part, after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        if !trimmed.is_ascii() {
            return Err(EmailError::NotAscii(excerpt(trimmed)));
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_ascii_lowercase();
        match normalised.split_once('@') {
            Some((local, domain)) if valid_local_part(local) && valid_domain(domain) => {
                Ok(Self(normalised))
            }
            _ => Err(EmailError::Malformed(excerpt(trimmed))),
        }
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a display name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Empty after trimming white space.
    #[error("name must not be empty")]
    Empty,
    /// Longer than [`DisplayName::MAX_CHARS`] characters.
    #[error("name is longer than {max} characters", max = DisplayName::MAX_CHARS)]
    TooLong,
    /// Contains control characters.
    #[error("name must not contain control characters")]
    ControlCharacters,
    /// Contains an invisible, direction-changing or line-breaking format character (see
    /// [`DisplayName::is_refused_format_char`]): names are shown to other people, who must
    /// see what the name says.
    #[error(
        "name must not contain U+{:04X}: zero-width, bidirectional-override and line or paragraph separator characters are refused",
        u32::from(*.0)
    )]
    FormatCharacter(char),
}

/// A human-readable name (of a user, tenant, token or key): trimmed, 1 to 100 characters,
/// no control characters, and none of the invisible or direction-changing characters that
/// would make a name read differently from what it is (U+202E, zero-width spaces...).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 100;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The format characters a name may not hold: zero-width and directional marks
    /// (U+200B–U+200F), bidirectional embeddings and overrides (U+202A–U+202E), the line and
    /// paragraph separators (U+2028, U+2029), invisible operators and the word joiner
    /// (U+2060–U+2064), bidirectional isolates (U+2066–U+2069) and the byte-order mark /
    /// zero-width no-break space (U+FEFF).
    pub const fn is_refused_format_char(c: char) -> bool {
        matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
    }
}

impl FromStr for DisplayName {
    type Err = NameError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(NameError::Empty)
        } else if trimmed.chars().count() > Self::MAX_CHARS {
            Err(NameError::TooLong)
        } else if trimmed.chars().any(char::is_control) {
            Err(NameError::ControlCharacters)
        } else if let Some(c) = trimmed.chars().find(|c| Self::is_refused_format_char(*c)) {
            Err(NameError::FormatCharacter(c))
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn email_is_normalised_to_lowercase_and_trimmed() {
        let email: Email = "  Ana.Lima@Example.COM ".parse().unwrap();
        assert_eq!(email.as_str(), "ana.lima@example.com");
        assert_eq!(email, "ana.lima@EXAMPLE.com".parse().unwrap());
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "ana@@example.com",
            "ana@exa mple.com",
            ".ana@example.com",
            "ana.@example.com",
            "a..na@example.com",
            "ana@-example.com",
            "ana@example.c0m",
            "ana@example..com",
        ] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn email_rejects_non_ascii_and_overlong() {
        assert!(matches!(
            "ané@example.com".parse::<Email>(),
            Err(EmailError::NotAscii(_))
        ));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(long.parse::<Email>(), Err(EmailError::TooLong));
    }

    #[test]
    fn email_deserialisation_validates() {
        assert!(serde_json::from_str::<Email>("\"not-an-email\"").is_err());
        let email: Email = serde_json::from_str("\"X@Y.org\"").unwrap();
        assert_eq!(email.as_str(), "x@y.org");
    }

    #[test]
    fn ids_round_trip_and_reject_the_wrong_kind() {
        let mut random = SeededRandom::new(7);
        let user = UserId::generate(&mut random);
        assert!(user.as_str().starts_with("usr_"));
        assert_eq!(user.as_str().parse::<UserId>().unwrap(), user);
        assert!(user.as_str().parse::<TenantId>().is_err());
        assert!("usr_ABCDEF0123456789".parse::<UserId>().is_err());
        assert!("usr_0123".parse::<UserId>().is_err());
        assert!("usr_0123456789abcdef0".parse::<UserId>().is_err());
        // The same seed gives the same id: prefix, then each byte as two lowercase hex digits.
        let mut again = SeededRandom::new(7);
        let bytes: [u8; 8] = crate::random::bytes(&mut again);
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(user.as_str(), format!("usr_{hex}"));
        let json = serde_json::to_string(&user).unwrap();
        assert_eq!(json, format!("\"usr_{hex}\""));
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), user);
        assert!(serde_json::from_str::<UserId>("\"usr_x\"").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!("  Ana  ".parse::<DisplayName>().unwrap().as_str(), "Ana");
        assert_eq!("   ".parse::<DisplayName>(), Err(NameError::Empty));
        assert_eq!(
            "a".repeat(101).parse::<DisplayName>(),
            Err(NameError::TooLong)
        );
        assert_eq!(
            "a\u{0}b".parse::<DisplayName>(),
            Err(NameError::ControlCharacters)
        );
    }

    #[test]
    fn names_with_bidi_overrides_zero_width_or_line_separators_are_refused() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
            '\u{202C}', '\u{202D}', '\u{202E}', '\u{2028}', '\u{2029}', '\u{2060}', '\u{2061}',
            '\u{2062}', '\u{2063}', '\u{2064}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{FEFF}',
        ] {
            let name = format!("Ana{c}Bell");
            assert_eq!(
                name.parse::<DisplayName>(),
                Err(NameError::FormatCharacter(c)),
                "{name:?}"
            );
            // Also at the edges, where trimming does not remove them (or does, for separators).
            if !c.is_whitespace() {
                assert!(format!("{c}Ana").parse::<DisplayName>().is_err());
            }
            let json = serde_json::to_string(&name).unwrap();
            assert!(serde_json::from_str::<DisplayName>(&json).is_err());
        }
        let message = "Ana\u{202E}lleB"
            .parse::<DisplayName>()
            .unwrap_err()
            .to_string();
        assert!(message.contains("U+202E"), "{message}");
        // Ordinary non-ASCII text stays accepted (emoji joined by U+200D do not).
        for good in ["Zoë Ångström", "李小龙", "José-María", "محمد", "O'Brien"] {
            assert!(good.parse::<DisplayName>().is_ok(), "{good}");
        }
        assert_eq!(
            "a\u{7}".parse::<DisplayName>(),
            Err(NameError::ControlCharacters)
        );
    }

    #[test]
    fn excerpt_shortens_and_neutralises_input() {
        assert_eq!(excerpt("a\nb"), "a?b");
        assert_eq!(excerpt(&"x".repeat(100)).chars().count(), 65);
    }
}
