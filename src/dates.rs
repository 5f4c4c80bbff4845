//! Dates as nicksock writes them, with the `time` crate's formatting: HTTP's IMF-fixdate
//! (`Date:` headers) and the plain UTC form of certificate lines.

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

const HTTP: &[BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const UTC: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");

fn format(t: OffsetDateTime, how: &[BorrowedFormatItem<'_>]) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(how)
        .unwrap_or_else(|_| format!("{} seconds after 1970", t.unix_timestamp()))
}

/// A time as an HTTP date (IMF-fixdate, RFC 9110): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: OffsetDateTime) -> String {
    format(t, HTTP)
}

/// A time as `2026-01-31 12:00:00 UTC`.
pub fn utc_date(t: OffsetDateTime) -> String {
    format(t, UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let t = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(utc_date(t), "1994-11-06 08:49:37 UTC");
    }
}
