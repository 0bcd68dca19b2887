//! Webhook endpoints: how a delivery is signed (Standard Webhooks 1.0), when
//! a failed one is tried again, when an endpoint is given up, and which URLs
//! an endpoint may have.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use url::Url;

use crate::crypto::{MasterKey, OpenError, Purpose};
use crate::event::EventType;
use crate::ids::{AccountId, IntegrationId, WebhookId};

pub const SECRET_PREFIX: &str = "whsec_";

/// How long a rotated-out secret still signs deliveries beside the new one,
/// so a receiver can switch over without refusing a delivery.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The waits after each failed attempt: the first retries come within
/// seconds, then they spread out over more than a day (27.7 h in all).
/// After the last, the delivery is given up.
pub const RETRY_SCHEDULE: [Duration; 10] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(12 * 3600),
];

/// An endpoint that has failed every attempt for this long is disabled.
pub const DISABLE_AFTER_FAILING: Duration = Duration::from_secs(5 * 24 * 3600);

/// An integration's webhook endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    pub url: String,
    pub events: EventFilter,
    pub enabled: bool,
    /// Why the server disabled it, when it did.
    pub disabled_reason: Option<String>,
    pub sealed_secret: Vec<u8>,
    /// The rotated-out secret, signing beside the new one until `previous_until`.
    pub sealed_previous_secret: Option<Vec<u8>>,
    pub previous_until: Option<OffsetDateTime>,
    /// The first failed attempt since the last delivered one.
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl WebhookEndpoint {
    /// A new, enabled endpoint with a fresh secret, which is returned to be
    /// shown once.
    pub fn new(
        master: &MasterKey,
        account_id: AccountId,
        integration_id: IntegrationId,
        url: &Url,
        events: EventFilter,
        now: OffsetDateTime,
    ) -> (Self, WebhookSecret) {
        let id = WebhookId::new();
        let secret = WebhookSecret::generate();
        let endpoint = Self {
            id,
            account_id,
            integration_id,
            url: url.to_string(),
            events,
            enabled: true,
            disabled_reason: None,
            sealed_secret: secret.seal(master, id),
            sealed_previous_secret: None,
            previous_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        (endpoint, secret)
    }

    /// Replaces the secret; the old one keeps signing for [`ROTATION_OVERLAP`].
    pub fn rotate_secret(&mut self, master: &MasterKey, now: OffsetDateTime) -> WebhookSecret {
        let secret = WebhookSecret::generate();
        self.sealed_previous_secret = Some(std::mem::replace(
            &mut self.sealed_secret,
            secret.seal(master, self.id),
        ));
        self.previous_until = Some(now + ROTATION_OVERLAP);
        self.updated_at = now;
        secret
    }

    /// The secrets a delivery at `now` is signed with: the current one, and
    /// the rotated-out one while it overlaps.
    pub fn signing_secrets(
        &self,
        master: &MasterKey,
        now: OffsetDateTime,
    ) -> Result<(WebhookSecret, Option<WebhookSecret>), OpenError> {
        let current = WebhookSecret::open(master, self.id, &self.sealed_secret)?;
        let previous = match (&self.sealed_previous_secret, self.previous_until) {
            (Some(sealed), Some(until)) if now < until => {
                Some(WebhookSecret::open(master, self.id, sealed)?)
            }
            _ => None,
        };
        Ok((current, previous))
    }

    pub fn set_enabled(&mut self, enabled: bool, now: OffsetDateTime) {
        self.enabled = enabled;
        self.disabled_reason = None;
        if enabled {
            self.failing_since = None;
        }
        self.updated_at = now;
    }
}

/// A signing secret: the HMAC key, shown as `whsec_` and its base64.
/// `Debug` is redacted and it is not `Clone`.
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.to_vec())
    }

    /// Reads the text form; `None` for text that is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(SECRET_PREFIX)?).ok()?;
        (24..=64).contains(&key.len()).then_some(Self(key))
    }

    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// Seals the key for storage, bound to its endpoint.
    pub fn seal(&self, master: &MasterKey, endpoint: WebhookId) -> Vec<u8> {
        master.seal(Purpose::WebhookSecret, &endpoint.to_bytes(), &self.0)
    }

    pub fn open(master: &MasterKey, endpoint: WebhookId, sealed: &[u8]) -> Result<Self, OpenError> {
        master
            .open(Purpose::WebhookSecret, &endpoint.to_bytes(), sealed)
            .map(Self)
    }

    /// `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `webhook-signature` header: the current secret's signature, then the
/// rotated-out one's while it overlaps (receivers accept any that matches).
pub fn signature_header(
    current: &WebhookSecret,
    previous: Option<&WebhookSecret>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut header = current.sign(id, timestamp, body);
    if let Some(previous) = previous {
        header.push(' ');
        header.push_str(&previous.sign(id, timestamp, body));
    }
    header
}

/// When to try a delivery again after its `attempts`-th failed attempt;
/// `None`: give it up. `jitter` in [-1, 1] moves the wait by up to 10 %, so
/// the retries of many deliveries that failed together do not come together.
pub fn retry_after(attempts: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let wait = RETRY_SCHEDULE.get(index)?;
    Some(wait.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0)))
}

/// Whether an endpoint failing since `failing_since` is to be disabled now.
pub fn gives_up_on_endpoint(failing_since: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - failing_since >= DISABLE_AFTER_FAILING
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; try again at this time.
    RetryAt(OffsetDateTime),
    /// Failed for the last time.
    GivenUp,
}

/// Decides what follows an attempt: `attempts` made before it, whether the
/// endpoint took it, and since when the endpoint has been failing. Returns
/// the outcome and whether the endpoint is to be disabled now.
pub fn after_attempt(
    attempts: u32,
    delivered: bool,
    failing_since: Option<OffsetDateTime>,
    now: OffsetDateTime,
    jitter: f64,
) -> (AttemptOutcome, bool) {
    if delivered {
        return (AttemptOutcome::Delivered, false);
    }
    let disable = failing_since.is_some_and(|since| gives_up_on_endpoint(since, now));
    let outcome = match retry_after(attempts.saturating_add(1), jitter) {
        Some(wait) => AttemptOutcome::RetryAt(now + wait),
        None => AttemptOutcome::GivenUp,
    };
    (outcome, disable)
}

/// Whether a delivery was accepted: any 2xx answer.
pub fn accepted(status: u16) -> bool {
    (200..300).contains(&status)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL is not valid: {0}")]
    Malformed(String),
    #[error("the URL must be http:// or https://")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL must not be longer than 2000 characters")]
    TooLong,
    #[error(
        "{0} is a loopback, private or link-local address; the operator must allow private webhook addresses"
    )]
    Private(IpAddr),
}

/// Checks an endpoint URL's form. Where its host resolves to is checked when
/// it is created and again at each delivery (see [`is_public`]).
pub fn check_url(text: &str) -> Result<Url, UrlError> {
    if text.len() > 2000 {
        return Err(UrlError::TooLong);
    }
    let url = Url::parse(text.trim()).map_err(|e| UrlError::Malformed(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme);
    }
    if url.host().is_none() {
        return Err(UrlError::Malformed("it has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    Ok(url)
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (CGNAT), unspecified, broadcast, multicast or
/// documentation space, in IPv4 or IPv6 (IPv4-mapped included).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// The event types an endpoint receives; empty: all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter(Vec<EventType>);

impl EventFilter {
    /// Reads event type names, refusing an unknown one; duplicates collapse.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, crate::event::UnknownEventType> {
        let mut kinds = Vec::new();
        for name in names {
            let kind: EventType = name.as_ref().trim().parse()?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Self(kinds))
    }

    pub fn admits(&self, kind: EventType) -> bool {
        self.0.is_empty() || self.0.contains(&kind)
    }

    pub fn kinds(&self) -> &[EventType] {
        &self.0
    }

    /// The stored form: `,a,b,` so SQL can match `,kind,` with LIKE; `''`: all.
    pub fn to_column(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut text = String::from(",");
        for kind in &self.0 {
            text.push_str(kind.as_str());
            text.push(',');
        }
        text
    }

    pub fn from_column(text: &str) -> Result<Self, crate::event::UnknownEventType> {
        let names: Vec<&str> = text.split(',').filter(|s| !s.is_empty()).collect();
        Self::parse(&names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The test vector of the Standard Webhooks libraries
        // (standard-webhooks/standard-webhooks, libraries/python tests).
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_reads_back_and_seals_for_its_endpoint_only() {
        let secret = WebhookSecret::generate();
        let text = secret.expose();
        assert!(text.starts_with(SECRET_PREFIX));
        let again = WebhookSecret::parse(&text).unwrap();
        assert_eq!(again.sign("a", 1, b"b"), secret.sign("a", 1, b"b"));
        assert!(!format!("{secret:?}").contains(&text[6..]));

        let (_, master) = MasterKey::generate();
        let endpoint = WebhookId::new();
        let sealed = secret.seal(&master, endpoint);
        let opened = WebhookSecret::open(&master, endpoint, &sealed).unwrap();
        assert_eq!(opened.expose(), text);
        assert!(WebhookSecret::open(&master, WebhookId::new(), &sealed).is_err());
        assert!(WebhookSecret::parse("whsec_short").is_none());
        assert!(WebhookSecret::parse("hgs_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends() {
        let (_, master) = MasterKey::generate();
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let url = check_url("https://example.com/hook").unwrap();
        let account = AccountId::new();
        let (mut endpoint, first) = WebhookEndpoint::new(
            &master,
            account,
            IntegrationId::new(),
            &url,
            EventFilter::default(),
            now,
        );
        let (current, previous) = endpoint.signing_secrets(&master, now).unwrap();
        assert_eq!(current.expose(), first.expose());
        assert!(previous.is_none());

        let second = endpoint.rotate_secret(&master, now);
        let (current, previous) = endpoint.signing_secrets(&master, now).unwrap();
        assert_eq!(current.expose(), second.expose());
        assert_eq!(previous.unwrap().expose(), first.expose());
        let later = now + ROTATION_OVERLAP;
        let (_, previous) = endpoint.signing_secrets(&master, later).unwrap();
        assert!(previous.is_none(), "the overlap ended");
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let (new, old) = (WebhookSecret::generate(), WebhookSecret::generate());
        let header = signature_header(&new, Some(&old), "evt_1", 5, b"{}");
        let signatures: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            signatures,
            [new.sign("evt_1", 5, b"{}"), old.sign("evt_1", 5, b"{}")]
        );
        assert_eq!(
            signature_header(&new, None, "evt_1", 5, b"{}"),
            signatures[0]
        );
    }

    #[test]
    fn retries_start_within_seconds_and_span_more_than_a_day() {
        assert_eq!(retry_after(0, 0.0), None, "no attempt, no retry");
        assert_eq!(retry_after(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(2, 0.0), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(3, 0.0), Some(Duration::from_secs(120)));
        let total: Duration = (1..=10).filter_map(|n| retry_after(n, -1.0)).sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(retry_after(11, 0.0), None, "then it is given up");
        let early = retry_after(2, -1.0).unwrap();
        let late = retry_after(2, 1.0).unwrap();
        assert_eq!((early.as_secs(), late.as_secs()), (27, 33));
        assert_eq!(retry_after(2, 7.0), Some(late), "jitter is bounded");
    }

    #[test]
    fn an_endpoint_is_given_up_after_five_days_of_failures() {
        let since = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert!(!gives_up_on_endpoint(
            since,
            since + time::Duration::days(4)
        ));
        assert!(gives_up_on_endpoint(since, since + time::Duration::days(5)));
        assert!(accepted(200) && accepted(204) && !accepted(301) && !accepted(500));
    }

    #[test]
    fn a_failed_attempt_is_retried_until_the_schedule_ends() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(
            after_attempt(0, true, Some(now), now, 0.0),
            (AttemptOutcome::Delivered, false)
        );
        assert_eq!(
            after_attempt(0, false, None, now, 0.0),
            (AttemptOutcome::RetryAt(now + Duration::from_secs(5)), false)
        );
        assert_eq!(
            after_attempt(10, false, None, now, 0.0),
            (AttemptOutcome::GivenUp, false)
        );
        let days_ago = now - time::Duration::days(5);
        assert_eq!(
            after_attempt(1, false, Some(days_ago), now, 0.0),
            (AttemptOutcome::RetryAt(now + Duration::from_secs(30)), true),
            "five days of failures disable the endpoint"
        );
    }

    #[test]
    fn endpoint_urls_are_http_without_credentials() {
        assert!(check_url("https://hooks.example.com/in?x=1").is_ok());
        assert_eq!(check_url("ftp://example.com"), Err(UrlError::Scheme));
        assert_eq!(
            check_url("https://u:p@example.com/"),
            Err(UrlError::Credentials)
        );
        assert!(matches!(
            check_url("not a url"),
            Err(UrlError::Malformed(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(2000));
        assert_eq!(check_url(&long), Err(UrlError::TooLong));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_filter_admits_its_types_and_stores_as_text() {
        let all = EventFilter::default();
        assert!(all.admits(EventType::HubOnline));
        assert_eq!(all.to_column(), "");
        let some = EventFilter::parse(&["hub.online", "hub.offline", "hub.online"]).unwrap();
        assert!(some.admits(EventType::HubOffline) && !some.admits(EventType::HubCreated));
        assert_eq!(some.to_column(), ",hub.online,hub.offline,");
        assert_eq!(EventFilter::from_column(&some.to_column()).unwrap(), some);
        assert!(EventFilter::parse(&["hub.exploded"]).is_err());
    }
}
