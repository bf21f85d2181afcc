//! Unit tests of `cache`.
use std::fs::OpenOptions;
use std::time::UNIX_EPOCH;

use super::*;

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn token(expires_in: u64, now: SystemTime) -> Token {
    Token {
        access_token: AccessToken::new("eyJ.canary-token.sig".into()),
        expires_on: now + Duration::from_secs(expires_in),
        refresh_on: None,
    }
}

#[test]
fn refresh_margin_and_refresh_in() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let s = Duration::from_secs;
    assert!(!should_refresh(now + s(3599), None, now));
    assert!(!should_refresh(now + s(301), None, now));
    assert!(should_refresh(now + s(300), None, now));
    assert!(should_refresh(now + s(10), None, now));
    assert!(should_refresh(now - s(10), None, now));
    assert!(
        should_refresh(now + s(3599), Some(now), now),
        "refresh_in reached"
    );
    assert!(!should_refresh(now + s(3599), Some(now + s(1)), now));
}

#[test]
fn round_trip_is_sealed_and_bound_to_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().join("tokens")).unwrap();
    let now = SystemTime::now();
    let key = CacheKey::derive(b"the-secret", "https://a|t|c|s").unwrap();
    cache.store(&key, &token(3600, now)).unwrap();
    assert_eq!(
        cache.load(&key, now).unwrap().access_token.expose(),
        "eyJ.canary-token.sig"
    );

    // Nothing readable on disk; the name says nothing about the secret.
    for e in fs::read_dir(dir.path().join("tokens")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        assert!(!name.contains("secret") && !name.contains("canary"));
        let bytes = fs::read(e.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("canary"));
        assert!(!String::from_utf8_lossy(&bytes).contains("eyJ"));
        #[cfg(unix)]
        assert_eq!(files::mode(&e.metadata().unwrap()), Some(0o600));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir_mode = fs::metadata(dir.path().join("tokens"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    // Another secret or another binding sees nothing.
    assert!(
        cache
            .load(
                &CacheKey::derive(b"other-secret", "https://a|t|c|s").unwrap(),
                now
            )
            .is_none()
    );
    assert!(
        cache
            .load(
                &CacheKey::derive(b"the-secret", "https://a|t|c|other").unwrap(),
                now
            )
            .is_none()
    );
}

#[test]
fn corrupt_truncated_and_foreign_files_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().to_path_buf()).unwrap();
    let now = SystemTime::now();
    let key = CacheKey::derive(b"s", "b").unwrap();
    cache.store(&key, &token(3600, now)).unwrap();
    let path = cache.entry_path(&key);
    let good = fs::read(&path).unwrap();
    for bad in [
        b"garbage".to_vec(),
        good[..good.len() - 1].to_vec(),
        [b"GDTC\x02".as_slice(), &good[5..]].concat(),
        {
            let mut g = good.clone();
            let n = g.len();
            g[n / 2] ^= 1;
            g
        },
        Vec::new(),
    ] {
        fs::write(&path, &bad).unwrap();
        assert!(cache.load(&key, now).is_none());
    }
    // ...and replaced by the next fetch.
    let t = cache
        .get_or_fetch(&key, SystemTime::now, far_deadline(), || {
            Ok::<_, ()>(token(3600, now))
        })
        .unwrap();
    assert_eq!(t.access_token.expose(), "eyJ.canary-token.sig");
    assert!(cache.load(&key, now).is_some());
}

#[test]
fn entries_beyond_any_token_lifetime_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().to_path_buf()).unwrap();
    let now = SystemTime::now();
    let key = CacheKey::derive(b"s", "b").unwrap();
    let far = super::super::MAX_LIFETIME.as_secs() + 3600;
    cache.store(&key, &token(far, now)).unwrap();
    assert!(cache.load(&key, now).is_none(), "beyond the bound");
    // A time past what SystemTime holds (written by nothing correct) is a miss too.
    let sealed = Sealed {
        access_token: Zeroizing::new("t".into()),
        expires_on: u64::MAX,
        refresh_on: Some(u64::MAX),
    };
    fs::write(cache.entry_path(&key), seal(&key, &sealed).unwrap()).unwrap();
    assert!(cache.load(&key, now).is_none());
}

/// Entries written by graphd 0.1 (OpenSSL's HKDF and AES-GCM, the same layout) still open:
/// the switch to aws-lc changed no byte on disk.
#[test]
fn entries_sealed_with_openssl_open_with_aws_lc() {
    use openssl::md::Md;
    use openssl::pkey::Id;
    use openssl::pkey_ctx::PkeyCtx;
    use openssl::symm::{Cipher, encrypt_aead};
    let hkdf = |info: &[u8], len: usize| {
        let mut ctx = PkeyCtx::new_id(Id::HKDF).unwrap();
        ctx.derive_init().unwrap();
        ctx.set_hkdf_md(Md::sha256()).unwrap();
        ctx.set_hkdf_key(b"the-secret").unwrap();
        ctx.set_hkdf_salt(SALT).unwrap();
        ctx.add_hkdf_info(info).unwrap();
        let mut out = vec![0u8; len];
        ctx.derive(Some(&mut out)).unwrap();
        out
    };
    let binding = "https://a|t|c|s|secret";
    let key = CacheKey::derive(b"the-secret", binding).unwrap();
    assert_eq!(hkdf(format!("key|{binding}").as_bytes(), 32), &key.key[..]);
    let name: String = hkdf(format!("name|{binding}").as_bytes(), 16)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(name, key.name);
    let now = SystemTime::now();
    let plain = format!(
        r#"{{"access_token":"eyJ.old","expires_on":{},"refresh_on":null}}"#,
        crate::time::unix_secs(now) + 3000
    );
    let nonce = [7u8; NONCE_LEN];
    let mut tag = [0u8; TAG_LEN];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        &key.key[..],
        Some(&nonce),
        &aad(&key.binding),
        plain.as_bytes(),
        &mut tag,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().to_path_buf()).unwrap();
    let bytes = [MAGIC.as_slice(), &[VERSION], &nonce, &ct, &tag].concat();
    fs::write(cache.entry_path(&key), bytes).unwrap();
    assert_eq!(
        cache.load(&key, now).unwrap().access_token.expose(),
        "eyJ.old"
    );
}

#[test]
fn entries_untouched_for_a_day_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().to_path_buf()).unwrap();
    let now = SystemTime::now();
    let (old, fresh) = (
        CacheKey::derive(b"a", "b").unwrap(),
        CacheKey::derive(b"c", "d").unwrap(),
    );
    cache.store(&old, &token(3600, now)).unwrap();
    cache.store(&fresh, &token(3600, now)).unwrap();
    let f = OpenOptions::new()
        .write(true)
        .open(cache.entry_path(&old))
        .unwrap();
    f.set_modified(now - PRUNE_AFTER - Duration::from_secs(60))
        .unwrap();
    cache.prune(now);
    assert!(!cache.entry_path(&old).exists(), "pruned");
    assert!(cache.entry_path(&fresh).exists(), "kept");
}

#[test]
fn expiring_tokens_are_not_reused_and_clear_removes_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::open(dir.path().to_path_buf()).unwrap();
    let now = SystemTime::now();
    let key = CacheKey::derive(b"s", "b").unwrap();
    cache.store(&key, &token(200, now)).unwrap();
    assert!(cache.load(&key, now).is_none(), "under the 5-minute margin");
    let mut fetched = 0;
    cache
        .get_or_fetch(&key, SystemTime::now, far_deadline(), || {
            fetched += 1;
            Ok::<_, ()>(token(3600, now))
        })
        .unwrap();
    cache
        .get_or_fetch(
            &key,
            SystemTime::now,
            far_deadline(),
            || -> Result<Token, ()> { panic!("cached") },
        )
        .unwrap();
    assert_eq!(fetched, 1);
    assert_eq!(cache.clear().unwrap(), 1);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
