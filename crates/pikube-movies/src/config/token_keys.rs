//! The keys behind the services' bearer tokens (review M9: no key that lets one service
//! speak for another).
//!
//! - Users' tokens are Ed25519-signed: the users service alone holds the [`SigningKey`];
//!   every service checks them with its public half, the [`VerifyingKey`], which cannot
//!   sign anything.
//! - A call to another service's `/internal` routes carries a token made with an
//!   [`InternalKey`] that only the calling service and the called one hold (one per
//!   caller), checked against the routes that caller may use
//!   (`auth::internal_routes`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// The Ed25519 private key (PKCS#8 DER) that signs users' tokens. Never printed.
#[derive(Clone)]
pub struct SigningKey {
    pkcs8: Vec<u8>,
    public: VerifyingKey,
}

/// The public key every service checks users' tokens with (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey([u8; 32]);

/// An HMAC-SHA256 key one calling service shares with the service it calls. Never printed.
#[derive(Clone)]
pub struct InternalKey(Vec<u8>);

/// Shorter HMAC keys are guessable offline from any token; RFC 7518 asks for 256 bits.
pub const MIN_INTERNAL_KEY_BYTES: usize = 32;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes:
/// what `openssl pkey -pubout -outform DER` writes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key from the environment is refused. Never quotes the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not base64 (`pikube serve movies --new-keys` prints a set)")]
    NotBase64,
    #[error(
        "not an Ed25519 private key in PKCS#8 DER (`pikube serve movies --new-keys`, or \
         `openssl genpkey -algorithm ed25519 -outform DER | base64 -w0`)"
    )]
    NotSigningKey,
    #[error(
        "not an Ed25519 public key: expected 32 bytes, or the 44 of \
         `openssl pkey -pubout -outform DER`, in base64; got {0} bytes"
    )]
    NotVerifyingKey(usize),
    #[error(
        "{0} bytes long; it must be at least {MIN_INTERNAL_KEY_BYTES} (e.g. `openssl rand -hex 32`)"
    )]
    ShortInternalKey(usize),
}

impl SigningKey {
    /// A fresh key pair: tokens it signs stop working when the process ends.
    pub fn random() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let document = Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("the operating system's random source is readable");
        SigningKey::from_der(document.as_ref()).expect("ring reads the key it has just made")
    }

    /// From base64 of PKCS#8 DER (v1, as OpenSSL writes it, or v2 with the public key).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let der = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        SigningKey::from_der(&der)
    }

    fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeyError::NotSigningKey)?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| KeyError::NotSigningKey)?;
        Ok(SigningKey {
            pkcs8: der.to_vec(),
            public: VerifyingKey(public),
        })
    }

    /// The public half, which checks what this key signs.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The private key as PKCS#8 DER, for the signer alone.
    pub fn expose_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// As `MOVIES_TOKEN_SIGNING_KEY` takes it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.pkcs8)
    }
}

impl VerifyingKey {
    /// From base64 of the 32 key bytes, or of an Ed25519 SubjectPublicKeyInfo.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        let raw = match bytes.strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) => raw,
            None => &bytes[..],
        };
        raw.try_into()
            .map(VerifyingKey)
            .map_err(|_| KeyError::NotVerifyingKey(bytes.len()))
    }

    /// The 32 bytes of the Ed25519 public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// As `MOVIES_TOKEN_VERIFYING_KEY` takes it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl InternalKey {
    /// A key given as text; refused when shorter than a key worth having.
    pub fn new(key: &str) -> Result<Self, KeyError> {
        if key.len() < MIN_INTERNAL_KEY_BYTES {
            return Err(KeyError::ShortInternalKey(key.len()));
        }
        Ok(InternalKey(key.as_bytes().to_vec()))
    }

    /// A fresh random key, as hex (what `openssl rand -hex 32` gives).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        InternalKey(hex::encode(bytes).into_bytes())
    }

    /// The key's bytes, for signing and checking a request.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// A fresh set of every key the six services need, as `secrets.env` lines (the
/// `movies-secrets` Secret of deploy/movies): what `pikube serve movies --new-keys` prints.
pub fn new_key_set() -> String {
    let signing = SigningKey::random();
    let mut lines = vec![
        "# Movies token keys, from `pikube serve movies --new-keys`. Users' tokens: the users"
            .to_owned(),
        "# service alone signs (the private key); every service checks (the public key)."
            .to_owned(),
        format!("MOVIES_TOKEN_SIGNING_KEY={}", signing.to_base64()),
        format!(
            "MOVIES_TOKEN_VERIFYING_KEY={}",
            signing.verifying_key().to_base64()
        ),
        "# One key per service that calls another's /internal routes, held by the two of them."
            .to_owned(),
    ];
    for caller in crate::auth::internal_routes::callers() {
        let key = InternalKey::random();
        lines.push(format!(
            "{}={}",
            crate::auth::internal_routes::key_variable(caller),
            String::from_utf8_lossy(key.expose())
        ));
    }
    lines.join("\n") + "\n"
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.to_base64())
    }
}

impl fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InternalKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text_and_openssl_forms_are_read() {
        let signing = SigningKey::random();
        let again = SigningKey::parse(&signing.to_base64()).unwrap();
        assert_eq!(again.verifying_key(), signing.verifying_key());
        let public = VerifyingKey::parse(&signing.verifying_key().to_base64()).unwrap();
        assert_eq!(&public, signing.verifying_key());
        // The SubjectPublicKeyInfo that `openssl pkey -pubout -outform DER` writes.
        let mut spki = SPKI_PREFIX.to_vec();
        spki.extend_from_slice(public.as_bytes());
        assert_eq!(
            VerifyingKey::parse(&STANDARD.encode(&spki)).unwrap(),
            public
        );
    }

    #[test]
    fn a_new_key_set_is_read_back_whole() {
        let text = new_key_set();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .to_owned()
        };
        let signing = SigningKey::parse(&value("MOVIES_TOKEN_SIGNING_KEY")).unwrap();
        let public = VerifyingKey::parse(&value("MOVIES_TOKEN_VERIFYING_KEY")).unwrap();
        assert_eq!(signing.verifying_key(), &public);
        for caller in ["PAYMENTS", "SCREENINGS"] {
            let key = value(&format!("MOVIES_INTERNAL_KEY_{caller}"));
            assert_eq!(InternalKey::new(&key).unwrap().expose().len(), 64);
        }
        assert_ne!(new_key_set(), text, "fresh keys every time");
    }

    #[test]
    fn bad_keys_are_named_and_never_quoted() {
        assert_eq!(
            SigningKey::parse("not base64!").err(),
            Some(KeyError::NotBase64)
        );
        assert_eq!(
            SigningKey::parse(&STANDARD.encode([7u8; 48])).err(),
            Some(KeyError::NotSigningKey)
        );
        assert_eq!(
            VerifyingKey::parse(&STANDARD.encode([7u8; 31])).err(),
            Some(KeyError::NotVerifyingKey(31))
        );
        assert_eq!(
            InternalKey::new("short").err(),
            Some(KeyError::ShortInternalKey(5))
        );
        assert_eq!(
            format!("{:?}", SigningKey::random()),
            "SigningKey(<redacted>)"
        );
        assert_eq!(
            format!("{:?}", InternalKey::random()),
            "InternalKey(<redacted>)"
        );
        assert_eq!(InternalKey::random().expose().len(), 64);
    }
}
