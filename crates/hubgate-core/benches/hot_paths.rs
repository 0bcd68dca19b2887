//! Micro-benchmarks of the token endpoint's and the API's hot pieces.
//! Run: `cargo bench -p hubgate-core --bench hot_paths`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hubgate_core::crypto::MasterKey;
use hubgate_core::ids::{AccountId, ClientId, FamilyId, IntegrationId, UserId};
use hubgate_core::refresh::RefreshClaims;
use hubgate_core::scope::ScopeSet;
use hubgate_core::secret::ClientSecret;
use hubgate_core::token_cache::VerifiedTokens;
use hubgate_core::tokens::{AccessClaims, AccessTokenSigner, AccessTokenVerifier, new_jti};

fn claims(now: time::OffsetDateTime) -> AccessClaims {
    AccessClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: UserId::new(),
        aud: "http://127.0.0.1:8080/api".into(),
        exp: now.unix_timestamp() + 3600,
        iat: now.unix_timestamp(),
        jti: new_jti(),
        client_id: ClientId::generate(),
        scope: ScopeSet::parse("hubs:read hubs:write accounts:read").expect("scope"),
        account_id: AccountId::new(),
        integration_id: IntegrationId::new(),
        family_id: Some(FamilyId::new()),
        epoch: 0,
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn hot_paths(c: &mut Criterion) {
    let (_, master) = MasterKey::generate();
    let now = hubgate_core::now();

    let secret = ClientSecret::generate();
    let verifier = secret.verifier();
    let presented = secret.expose().to_owned();
    c.bench_function(
        "client secret check (SHA-256 + constant-time compare)",
        |b| b.iter(|| verifier.matches(black_box(&presented))),
    );

    let (signer, stored) = AccessTokenSigner::generate(&master, now);
    let access = claims(now);
    c.bench_function("access token sign (Ed25519 JWS)", |b| {
        b.iter(|| signer.sign(black_box(&access)))
    });

    let jwt_verifier = AccessTokenVerifier::new(
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/api",
        [&stored],
    );
    let token = signer.sign(&access);
    c.bench_function("access token verify (jsonwebtoken, Ed25519)", |b| {
        b.iter(|| jwt_verifier.verify(black_box(&token), now).expect("valid"))
    });

    // The server's verified-token cache, filled with 10k other tokens.
    let cache = VerifiedTokens::default();
    for _ in 0..10_000 {
        cache.insert(&signer.sign(&claims(now)), std::sync::Arc::new(claims(now)));
    }
    cache.insert(&token, std::sync::Arc::new(access.clone()));
    let at = now.unix_timestamp();
    c.bench_function("verified-token cache hit (10k entries)", |b| {
        b.iter(|| cache.get(black_box(&token), at).expect("cached"))
    });

    // 200k live tokens at random against 131,072 places: a lookup, and on a
    // miss the insert (with the eviction it may cause) the server makes
    // after verifying.
    let crowded = VerifiedTokens::default();
    let live = std::sync::Arc::new(claims(now));
    let names: Vec<String> = (0..200_000).map(|i| format!("token-{i:06}")).collect();
    let mut state: u64 = 1;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        usize::try_from((state >> 33) % 200_000).unwrap_or(0)
    };
    for _ in 0..400_000 {
        let name = &names[next()];
        if crowded.get(name, at).is_none() {
            crowded.insert(name, live.clone());
        }
    }
    c.bench_function(
        "verified-token cache get-or-insert (200k live tokens)",
        |b| {
            b.iter(|| {
                let name = &names[next()];
                if crowded.get(black_box(name), at).is_none() {
                    crowded.insert(name, live.clone());
                }
            })
        },
    );

    let refresh = RefreshClaims {
        family: FamilyId::new(),
        generation: 0,
        integration: IntegrationId::new(),
        account: AccountId::new(),
        user: UserId::new(),
        scope: ScopeSet::all(),
        epoch: 0,
        issued_at: now.unix_timestamp(),
        expires_at: now.unix_timestamp() + 86_400,
    };
    c.bench_function("refresh token seal (XChaCha20-Poly1305)", |b| {
        b.iter(|| refresh.seal(black_box(&master)))
    });
    let sealed = refresh.seal(&master);
    c.bench_function("refresh token open", |b| {
        b.iter(|| RefreshClaims::open(black_box(&master), black_box(&sealed)).expect("opens"))
    });

    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=hubs%3Aread+hubs%3Awrite+accounts%3Aread",
        ClientId::generate(),
        secret.expose()
    );
    c.bench_function("token request form parse", |b| {
        b.iter(|| serde_urlencoded::from_str::<Form>(black_box(&body)).expect("parses"))
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
