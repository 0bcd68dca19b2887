//! Checking that a webhook delivery comes from hubgate (Standard Webhooks
//! 1.0), in the integration's receiver.
//!
//! A delivery is a POST whose body is the [`Event`] JSON, with the headers
//! `webhook-id` (the event id), `webhook-timestamp` (unix seconds) and
//! `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` of
//! `{id}.{timestamp}.{body}` under the endpoint's key. While a secret is being
//! rotated the server signs with both the new and the old one, so a delivery
//! is genuine when *any* signature matches.
//!
//! Verify the raw body bytes before parsing them: JSON parsed and written
//! again is not the text that was signed.
//!
//! ```no_run
//! use axum::{body::Bytes, http::{HeaderMap, StatusCode}};
//!
//! async fn receive(headers: HeaderMap, body: Bytes) -> StatusCode {
//!     let secret = std::env::var("HUBGATE_WEBHOOK_SECRET").unwrap_or_default();
//!     let now = std::time::SystemTime::now();
//!     match hubgate_client::webhooks::verify_request(&secret, &headers, &body, now) {
//!         // Deliveries are at least once: `event.id` is the idempotency key.
//!         Ok(_event) => StatusCode::NO_CONTENT,
//!         Err(_) => StatusCode::BAD_REQUEST,
//!     }
//! }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use hubgate_api::Event;
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a delivery's timestamp may be from now, either way: an older one
/// may be a replay; a newer one a signer with a wrong clock.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

const SECRET_PREFIX: &str = "whsec_";
const VERSION: &str = "v1";

/// Standard base64 that takes padded and unpadded text alike, as the
/// official libraries do for secrets and signatures.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The three headers of a delivery, as received; for frameworks whose
/// headers are not an [`http::HeaderMap`](reqwest::header::HeaderMap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> WebhookHeaders<'a> {
    /// Reads the three headers (names are case-insensitive).
    pub fn from_header_map(headers: &'a HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .ok_or(VerifyError::MissingHeader(name))?
                .to_str()
                .map_err(|_| VerifyError::InvalidHeader(name))
        };
        Ok(Self {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }
}

/// Why a delivery was not accepted. Answer 400 for any of them; the server
/// retries, so a clock or secret fixed soon loses nothing.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// Not visible ASCII, or a timestamp that is not an integer.
    #[error("the {0} header is malformed")]
    InvalidHeader(&'static str),
    /// The configured secret is not `whsec_` and base64 (or is empty).
    #[error("the webhook secret is not whsec_ followed by base64")]
    BadSecret,
    #[error("the delivery is {age_seconds} s old, more than the 300 s tolerated")]
    TimestampTooOld { age_seconds: i64 },
    #[error("the delivery is {ahead_seconds} s in the future, more than the 300 s tolerated")]
    TimestampTooNew { ahead_seconds: i64 },
    /// No `v1` signature matches this secret: forged, altered, or signed with
    /// another secret (one rotated out, or another endpoint's).
    #[error("no signature matches the secret")]
    NoMatchingSignature,
    /// Genuine, but the body is not an event.
    #[error("the body is not an event: {0}")]
    NotAnEvent(#[source] serde_json::Error),
}

/// Checks a delivery and returns its event: the secret is the endpoint's
/// `whsec_…`; `now` is passed in so tests pin it.
pub fn verify(
    secret: &str,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: SystemTime,
) -> Result<Event, VerifyError> {
    verify_signature(secret, headers, body, now)?;
    serde_json::from_slice(body).map_err(VerifyError::NotAnEvent)
}

/// [`verify`] with the headers as axum, hyper and reqwest hold them (one
/// `http` crate, so `axum::http::HeaderMap` is this type).
pub fn verify_request(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Event, VerifyError> {
    verify(
        secret,
        &WebhookHeaders::from_header_map(headers)?,
        body,
        now,
    )
}

/// Checks the timestamp and the signatures only, whatever the body holds.
pub fn verify_signature(
    secret: &str,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let key = decode_secret(secret)?;
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidHeader(HEADER_TIMESTAMP))?;
    let now = unix_seconds(now);
    let tolerance = TOLERANCE.as_secs() as i64;
    if now.saturating_sub(timestamp) > tolerance {
        return Err(VerifyError::TimestampTooOld {
            age_seconds: now.saturating_sub(timestamp),
        });
    }
    if timestamp.saturating_sub(now) > tolerance {
        return Err(VerifyError::TimestampTooNew {
            ahead_seconds: timestamp.saturating_sub(now),
        });
    }
    let expected = mac(&key, headers.id, timestamp, body);
    // Every candidate is compared, in constant time, so the time taken tells
    // nothing of how close a forged signature came.
    let matched = headers
        .signature
        .split(' ')
        .filter_map(|versioned| versioned.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, signature)| BASE64.decode(signature).ok())
        .fold(Choice::from(0), |matched, candidate| {
            matched | expected.as_slice().ct_eq(&candidate)
        });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// The `v1,…` signature of a delivery, as the server computes it: for tests
/// and for anyone sending deliveries to a receiver that uses [`verify`].
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, VerifyError> {
    let key = decode_secret(secret)?;
    Ok(format!(
        "{VERSION},{}",
        BASE64.encode(mac(&key, id, timestamp, body))
    ))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(id.as_bytes());
    mac.update(format!(".{timestamp}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The key bytes of `whsec_<base64>`; the prefix may be left out, as the
/// official libraries allow.
fn decode_secret(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    match BASE64.decode(encoded.trim()) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(VerifyError::BadSecret),
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OLD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "evt_0000000000000042";
    const BODY: &[u8] = br#"{"id":"evt_0000000000000042","type":"hub.online","timestamp":"2026-12-02T14:26:51Z","account_id":"acc_1","hub_id":"hub_1","data":{"hub_id":"hub_1","last_seen":1796221611}}"#;
    const AT: i64 = 1_796_221_611;

    fn at(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn headers<'a>(timestamp: &'a str, signature: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders {
            id: ID,
            timestamp,
            signature,
        }
    }

    #[test]
    fn signatures_match_the_official_libraries_test_vectors() {
        // `test_sign_function` in standard-webhooks/standard-webhooks
        // libraries/python/tests/test_webhooks.py (the same vector is in the
        // Go, JavaScript, PHP, Java, C# and Ruby libraries' tests).
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // `test_sign` in libraries/rust/src/lib.rs of the same repository.
        assert_eq!(
            sign(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#,
            )
            .unwrap(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_official_vector_verifies_and_then_is_refused_as_not_an_event() {
        let vector = WebhookHeaders {
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: "1614265330",
            signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        };
        let body = br#"{"test": 2432232314}"#;
        let now = at(1614265330 + 10);
        verify_signature(SECRET, &vector, body, now).expect("the vector's signature");
        assert!(matches!(
            verify(SECRET, &vector, body, now),
            Err(VerifyError::NotAnEvent(_))
        ));
    }

    #[test]
    fn a_genuine_delivery_gives_its_event() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        let event = verify(SECRET, &headers("1796221611", &signature), BODY, at(AT)).unwrap();
        assert_eq!(event.id, ID);
        assert_eq!(event.kind, "hub.online");
        assert_eq!(event.hub_id, "hub_1");
    }

    #[test]
    fn during_a_rotation_either_secret_verifies_the_two_signatures() {
        let both = format!(
            "{} {}",
            sign(SECRET, ID, AT, BODY).unwrap(),
            sign(OLD_SECRET, ID, AT, BODY).unwrap()
        );
        for secret in [SECRET, OLD_SECRET] {
            verify(secret, &headers("1796221611", &both), BODY, at(AT))
                .unwrap_or_else(|e| panic!("{secret}: {e}"));
        }
        let third = "whsec_YSB0aGlyZCBzZWNyZXQsIDI0IGJ5dGVz";
        assert!(matches!(
            verify(third, &headers("1796221611", &both), BODY, at(AT)),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("hub.online", "hub.offline");
        assert!(matches!(
            verify(
                SECRET,
                &headers("1796221611", &signature),
                tampered.as_bytes(),
                at(AT)
            ),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn a_changed_id_or_timestamp_is_refused() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        let other_id = WebhookHeaders {
            id: "evt_0000000000000043",
            ..headers("1796221611", &signature)
        };
        assert!(matches!(
            verify(SECRET, &other_id, BODY, at(AT)),
            Err(VerifyError::NoMatchingSignature)
        ));
        assert!(matches!(
            verify(SECRET, &headers("1796221612", &signature), BODY, at(AT)),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn the_wrong_secret_is_refused() {
        let signature = sign(OLD_SECRET, ID, AT, BODY).unwrap();
        assert!(matches!(
            verify(SECRET, &headers("1796221611", &signature), BODY, at(AT)),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn timestamps_more_than_five_minutes_away_are_refused_either_way() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        let header = headers("1796221611", &signature);
        verify(SECRET, &header, BODY, at(AT + 300)).expect("300 s old is tolerated");
        verify(SECRET, &header, BODY, at(AT - 300)).expect("300 s ahead is tolerated");
        assert!(matches!(
            verify(SECRET, &header, BODY, at(AT + 301)),
            Err(VerifyError::TimestampTooOld { age_seconds: 301 })
        ));
        assert!(matches!(
            verify(SECRET, &header, BODY, at(AT - 301)),
            Err(VerifyError::TimestampTooNew { ahead_seconds: 301 })
        ));
    }

    #[test]
    fn malformed_signatures_and_other_versions_do_not_match() {
        let good = sign(SECRET, ID, AT, BODY).unwrap();
        let (_, encoded) = good.split_once(',').unwrap();
        for signature in [
            String::new(),
            "v1,".into(),
            "v1,!!!not-base64".into(),
            format!("v1a,{encoded}"),
            format!("v2,{encoded}"),
            good[..8].to_owned(),
            encoded.to_owned(),
        ] {
            assert!(
                matches!(
                    verify(SECRET, &headers("1796221611", &signature), BODY, at(AT)),
                    Err(VerifyError::NoMatchingSignature)
                ),
                "{signature:?}"
            );
        }
        let among_others = format!("v1a,{encoded} v1,!!! {good} v2,xyz");
        verify(SECRET, &headers("1796221611", &among_others), BODY, at(AT))
            .expect("the one v1 signature that matches");
    }

    #[test]
    fn unusable_secrets_and_timestamps_are_told_apart_from_forgeries() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        for secret in ["", "whsec_", "whsec_not base64!"] {
            assert!(
                matches!(
                    verify(secret, &headers("1796221611", &signature), BODY, at(AT)),
                    Err(VerifyError::BadSecret)
                ),
                "{secret:?}"
            );
        }
        assert!(matches!(
            verify(SECRET, &headers("1796221611.5", &signature), BODY, at(AT)),
            Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP))
        ));
        // Without the prefix, as the official libraries accept it.
        verify(
            SECRET.trim_start_matches("whsec_"),
            &headers("1796221611", &signature),
            BODY,
            at(AT),
        )
        .expect("the bare base64 key");
    }

    #[test]
    fn a_request_missing_a_header_says_which() {
        let signature = sign(SECRET, ID, AT, BODY).unwrap();
        let mut map = HeaderMap::new();
        map.insert("Webhook-Id", ID.parse().unwrap());
        map.insert("webhook-timestamp", "1796221611".parse().unwrap());
        assert!(matches!(
            verify_request(SECRET, &map, BODY, at(AT)),
            Err(VerifyError::MissingHeader(HEADER_SIGNATURE))
        ));
        map.insert("WEBHOOK-SIGNATURE", signature.parse().unwrap());
        let event = verify_request(SECRET, &map, BODY, at(AT)).unwrap();
        assert_eq!(event.id, ID);
    }
}
