//! Time as graphd reads and prints it: Unix seconds, and RFC 3339 dates that never panic.
//!
//! Every check that reads the clock takes `now` as a value (tests pass a fixed one); this module
//! only converts. Dates are formatted by hand (a proleptic Gregorian calendar over `i64` seconds)
//! because the common formatters panic before 1970 and after 9999, and a certificate or a
//! server may carry any date. Imports nothing of graphd's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, negative before it, saturating at the ends of `i64`.
pub fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Seconds since the epoch as an unsigned count (0 before the epoch): JWT `iat`/`exp` values.
pub fn unix_secs(t: SystemTime) -> u64 {
    u64::try_from(unix(t)).unwrap_or(0)
}

/// The `SystemTime` of Unix second `secs`, if the platform can hold it.
pub fn from_unix(secs: i64) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// `2026-11-29T13:16:46Z` for any Unix second. Years outside 0000..=9999 are written with a sign
/// and as many digits as they need (ISO 8601's expanded form) rather than panicking.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// `rfc3339` of a `SystemTime`.
pub fn rfc3339_of(t: SystemTime) -> String {
    rfc3339(unix(t))
}

/// Year, month, day of a day number counted from 1970-01-01 (Howard Hinnant's algorithm),
/// in `i128` so that no `i64` day count can overflow.
fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// The longest token lifetime graphd believes, from any server. Entra's app tokens live 60–90
/// minutes, at most 24 hours under a token-lifetime policy (managed-identity tokens are the long
/// ones, about a day), and tokens for continuous access evaluation at most 28 hours; 36 hours
/// leaves room for skew and nothing more. It lives here, below `credential` and `token`, so
/// that Entra's answers (`token::MAX_LIFETIME` is this) and a managed identity's endpoint's are
/// held to the same bound.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(36 * 3600);

/// Why a token's stated expiry is refused: it is not after `now`, or it is further from `now`
/// than [`MAX_TOKEN_LIFETIME`].
pub fn check_token_expiry(expires_on: SystemTime, now: SystemTime) -> Result<(), String> {
    match expires_on.duration_since(now) {
        Err(_) | Ok(Duration::ZERO) => Err("the token has already expired".into()),
        Ok(d) if d > MAX_TOKEN_LIFETIME => Err(format!(
            "the token's lifetime is beyond the {} h any Entra token lives",
            MAX_TOKEN_LIFETIME.as_secs() / 3600
        )),
        Ok(_) => Ok(()),
    }
}

/// "3 days", "5 hours", "12 minutes", rounded to the nearest unit.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let unit = if secs >= 2 * 86_400 {
        (86_400, "day")
    } else if secs >= 2 * 3600 {
        (3600, "hour")
    } else {
        (60, "minute")
    };
    let n = secs / unit.0 + i64::from(secs % unit.0 >= unit.0 / 2);
    format!("{n} {}{}", unit.1, if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_across_every_range() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(-631_152_000), "1950-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), "+10000-01-01T00:00:00Z");
        // Neither end of i64 panics.
        assert!(rfc3339(i64::MAX).starts_with('+'));
        assert!(rfc3339(i64::MIN).starts_with('-'));
    }

    #[test]
    fn unix_round_trips_and_saturates() {
        let t = UNIX_EPOCH + Duration::from_secs(42);
        assert_eq!(unix(t), 42);
        assert_eq!(unix(UNIX_EPOCH - Duration::from_secs(5)), -5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(from_unix(-5).map(unix), Some(-5));
        assert_eq!(rfc3339_of(t), "1970-01-01T00:00:42Z");
    }

    #[test]
    fn token_expiry_bounds() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(check_token_expiry(now + Duration::from_secs(86_399), now).is_ok());
        assert!(check_token_expiry(now + MAX_TOKEN_LIFETIME, now).is_ok());
        assert!(
            check_token_expiry(now + MAX_TOKEN_LIFETIME + Duration::from_secs(1), now).is_err()
        );
        assert!(check_token_expiry(now, now).is_err());
        assert!(check_token_expiry(UNIX_EPOCH, now).is_err());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3 * 86_400 + 5), "3 days");
        assert_eq!(human_duration(10 * 86_400 - 3), "10 days");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(60), "1 minute");
        assert!(human_duration(i64::MAX).ends_with(" days"), "no overflow");
    }
}
