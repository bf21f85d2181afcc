//! Small helpers shared by the endpoints: wall-clock time in the shapes Entra and Graph print,
//! fresh GUIDs, random bytes and base64url. Nothing here knows about HTTP or about the protocol.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, and the sub-second nanoseconds.
pub(crate) fn now_parts() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    now_parts().0
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // d is in 1..=31 and m in 1..=12 by construction.
    (y, m as u32, d as u32)
}

/// `2026-01-02T03:04:05` (Graph's innerError `date`), with `frac` fractional digits and a `Z`
/// when `zulu` (Entra's `timestamp` uses 7 digits and `Z`).
pub(crate) fn format_time(secs: i64, nanos: u32, frac: usize, zulu: bool) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    if frac > 0 {
        let digits = format!("{nanos:09}");
        s.push('.');
        s.push_str(&digits[..frac.min(9)]);
    }
    if zulu {
        s.push('Z');
    }
    s
}

/// A fresh random GUID in lowercase hyphenated form.
pub(crate) fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `n` cryptographically random bytes from OpenSSL.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if openssl::rand::rand_bytes(&mut buf).is_err() {
        // OpenSSL's RNG does not fail once initialised; fall back to UUID randomness anyway.
        for chunk in buf.chunks_mut(16) {
            let u = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
    buf
}

/// base64url without padding, as JWTs and skiptokens use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client secret shaped like the ones Entra hands out: 40 characters, three random ones,
/// `8Q~`, then 34 from `[A-Za-z0-9._~-]`, always containing `.` and `_`.
pub(crate) fn client_secret() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const BODY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
    let r = random_bytes(40);
    let mut s: Vec<u8> = Vec::with_capacity(40);
    for b in &r[..3] {
        s.push(ALNUM[usize::from(*b) % ALNUM.len()]);
    }
    s.extend_from_slice(b"8Q~");
    for b in &r[3..37] {
        s.push(BODY[usize::from(*b) % BODY.len()]);
    }
    // Force a '.' and a '_' at two distinct body positions (6..40).
    let dot = 6 + usize::from(r[37]) % 17;
    let underscore = 23 + usize::from(r[38]) % 17;
    s[dot] = b'.';
    s[underscore] = b'_';
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_time(0, 0, 0, true), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(1_767_323_045, 123_456_789, 7, true),
            "2026-01-02T03:04:05.1234567Z"
        );
        assert_eq!(format_time(951_782_400, 0, 0, false), "2000-02-29T00:00:00");
    }

    #[test]
    fn secrets_look_real() {
        for _ in 0..50 {
            let s = client_secret();
            assert_eq!(s.len(), 40);
            assert_eq!(&s[3..6], "8Q~");
            assert!(s.contains('.') && s.contains('_') && s.contains('~'));
        }
    }
}
