//! RFC 3339 text for the API's timestamps (whole seconds, UTC), as people read and write them.

use portcullis_core::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 text for a timestamp (`2026-11-27T12:00:00Z`); `None` past what the format holds.
pub fn format_rfc3339(timestamp: Timestamp) -> Option<String> {
    i64::try_from(timestamp.unix_seconds())
        .ok()
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .and_then(|time| time.format(&Rfc3339).ok())
}

/// Parses RFC 3339 text into a timestamp; the error says what was wrong, for people.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as `2027-01-31T00:00:00Z`"))?;
    let seconds =
        u64::try_from(time.unix_timestamp()).map_err(|_| format!("`{text}` is before 1970"))?;
    Timestamp::try_from_unix_seconds(seconds).map_err(|error| format!("`{text}`: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_bad_text_is_refused() {
        let at = parse_rfc3339("2027-01-31T00:00:00Z").unwrap();
        assert_eq!(at.unix_seconds(), 1_801_353_600);
        assert_eq!(format_rfc3339(at).unwrap(), "2027-01-31T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2027-01-31T02:00:00+02:00").unwrap(),
            at,
            "offsets are converted to UTC"
        );
        assert!(parse_rfc3339("tomorrow").unwrap_err().contains("RFC 3339"));
        assert!(
            parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap_err()
                .contains("before 1970")
        );
    }
}
