//! What a PKCS#12 file's structure says about its private key's protection (RFC 7292): whether
//! a key sits in a plain `keyBag` outside any encrypted content, which no password protects,
//! however the file's integrity MAC is keyed (`openssl pkcs12 -export -keypbe NONE`).
//!
//! OpenSSL's API gives the parsed key, not where it was, so this module walks the ASN.1
//! itself. It is written by hand because PKCS#12 files from Windows are BER, with indefinite
//! lengths and chunked OCTET STRINGs, which DER-only crates refuse; it only reads tags and
//! lengths, never decrypts, and answers `None` for anything it cannot follow (the caller then
//! treats the key as unprotected, the safe side).

/// `1.2.840.113549.1.7.1` (data), the DER content octets of the OID.
const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
/// `1.2.840.113549.1.12.10.1.1` (keyBag: a PKCS#8 PrivateKeyInfo in the clear).
const KEY_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x01,
];
/// `1.2.840.113549.1.12.10.1.6` (safeContentsBag: nested SafeContents).
const SAFE_CONTENTS_BAG: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x06,
];

/// How deep nested structures may go before the walk gives up (a hostile file cannot recurse
/// without bound).
const MAX_DEPTH: usize = 16;

/// Whether the PKCS#12 `der` holds a private key in a plain `keyBag` outside any encrypted
/// content: `Some(true)` yes, `Some(false)` no, `None` when the structure cannot be followed.
pub fn has_plain_key_bag(der: &[u8]) -> Option<bool> {
    // PFX ::= SEQUENCE { version, authSafe ContentInfo, macData OPTIONAL }
    let pfx = Tlv::parse_all(der)?;
    let mut parts = pfx.children()?.into_iter();
    let _version = parts.next()?;
    let auth_safe = data_octets(&parts.next()?)?;
    // AuthenticatedSafe ::= SEQUENCE OF ContentInfo
    for info in Tlv::parse_all(&auth_safe)?.children()? {
        let mut fields = info.children()?.into_iter();
        if fields.next()?.content != DATA {
            continue; // encryptedData (or envelopedData): under the password
        }
        let contents = octets(&fields.next()?.children()?.into_iter().next()?)?;
        if safe_contents_has_key_bag(&contents, 0)? {
            return Some(true);
        }
    }
    Some(false)
}

/// SafeContents ::= SEQUENCE OF SafeBag { bagId, [0] bagValue, attributes }
fn safe_contents_has_key_bag(der: &[u8], depth: usize) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    for bag in Tlv::parse_all(der)?.children()? {
        let mut fields = bag.children()?.into_iter();
        let id = fields.next()?;
        if id.content == KEY_BAG {
            return Some(true);
        }
        if id.content == SAFE_CONTENTS_BAG {
            let value = fields.next()?.children()?.into_iter().next()?;
            let mut nested = Vec::new();
            value.encode_into(&mut nested);
            if safe_contents_has_key_bag(&nested, depth + 1)? {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// The octets of a `ContentInfo` of type data: `SEQUENCE { OID data, [0] EXPLICIT OCTET STRING }`.
fn data_octets(info: &Tlv<'_>) -> Option<Vec<u8>> {
    let mut fields = info.children()?.into_iter();
    if fields.next()?.content != DATA {
        return None;
    }
    octets(&fields.next()?.children()?.into_iter().next()?)
}

/// An OCTET STRING's bytes, primitive or (BER) constructed of chunks.
fn octets(t: &Tlv<'_>) -> Option<Vec<u8>> {
    match t.tag {
        0x04 => Some(t.content.to_vec()),
        0x24 => {
            let mut out = Vec::new();
            for chunk in t.children()? {
                out.extend_from_slice(&octets(&chunk)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// One tag-length-value; `content` excludes a BER end-of-contents marker.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The single TLV that `der` is.
    fn parse_all(der: &'a [u8]) -> Option<Tlv<'a>> {
        let (t, rest) = Tlv::parse(der, 0)?;
        rest.is_empty().then_some(t)
    }

    /// One TLV at the start of `input`, and what follows it.
    fn parse(input: &'a [u8], depth: usize) -> Option<(Tlv<'a>, &'a [u8])> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1F == 0x1F {
            return None; // high tag numbers do not occur in PKCS#12
        }
        let (&first, mut rest) = rest.split_first()?;
        if first == 0x80 {
            // BER indefinite length: children until the 00 00 end-of-contents.
            if tag & 0x20 == 0 {
                return None;
            }
            let start = rest;
            loop {
                if rest.starts_with(&[0, 0]) {
                    let len = start.len() - rest.len();
                    return Some((
                        Tlv {
                            tag,
                            content: &start[..len],
                        },
                        &rest[2..],
                    ));
                }
                let (_, after) = Tlv::parse(rest, depth + 1)?;
                rest = after;
            }
        }
        let len = if first & 0x80 == 0 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, after) = rest.split_at(n);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        Some((Tlv { tag, content }, after))
    }

    /// The TLVs inside a constructed one.
    fn children(&self) -> Option<Vec<Tlv<'a>>> {
        if self.tag & 0x20 == 0 {
            return None;
        }
        let mut out = Vec::new();
        let mut rest = self.content;
        while !rest.is_empty() {
            let (t, after) = Tlv::parse(rest, 1)?;
            out.push(t);
            rest = after;
        }
        Some(out)
    }

    /// Re-encodes this TLV as DER (definite length).
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag);
        let len = self.content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(self.content);
    }
}

#[cfg(test)]
mod tests {
    use openssl::nid::Nid;
    use openssl::pkcs12::Pkcs12;

    use super::*;
    use crate::credential::certificate::tests::{rsa, self_signed};

    #[test]
    fn tells_plain_key_bags_from_shrouded_ones() {
        let key = rsa(2048);
        let cert = self_signed(&key, -1, 30);
        let shrouded = Pkcs12::builder()
            .pkey(&key)
            .cert(&cert)
            .build2("pw")
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(has_plain_key_bag(&shrouded), Some(false));
        // `openssl pkcs12 -export -keypbe NONE -certpbe NONE`: the key in the clear.
        let plain = Pkcs12::builder()
            .pkey(&key)
            .cert(&cert)
            .key_algorithm(Nid::from_raw(-1))
            .cert_algorithm(Nid::from_raw(-1))
            .build2("pw")
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(has_plain_key_bag(&plain), Some(true));
        // Anything else is "cannot tell", never a panic.
        for bad in [
            &b""[..],
            b"\x30\x80",
            b"\x30\x84\xff\xff\xff\xff",
            &shrouded[..40],
        ] {
            assert_eq!(has_plain_key_bag(bad), None);
        }
    }

    #[test]
    fn ber_indefinite_lengths_and_chunked_octets_are_followed() {
        // data ContentInfo with a constructed, chunked OCTET STRING of an empty SafeContents,
        // all with indefinite lengths, as Windows writes them.
        let oid = |o: &[u8]| [&[0x06, o.len() as u8][..], o].concat();
        let safe_contents = [0x30, 0x00];
        let info = [
            &[0x30, 0x80][..],
            &oid(DATA),
            &[
                0xA0,
                0x80,
                0x24,
                0x80,
                0x04,
                0x01,
                safe_contents[0],
                0x04,
                0x01,
                safe_contents[1],
                0,
                0,
                0,
                0,
            ],
            &[0, 0],
        ]
        .concat();
        let auth_safe = [&[0x30, 0x80][..], &info, &[0, 0]].concat();
        let pfx = [
            &[0x30, 0x80, 0x02, 0x01, 0x03][..],
            &[0x30, 0x80],
            &oid(DATA),
            &[0xA0, 0x80, 0x04, auth_safe.len() as u8],
            &auth_safe,
            &[0, 0, 0, 0],
            &[0, 0],
        ]
        .concat();
        assert_eq!(has_plain_key_bag(&pfx), Some(false));
    }
}
