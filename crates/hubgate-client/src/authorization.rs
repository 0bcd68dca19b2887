//! The authorization-code flow with PKCE, for integrations acting for an end user.
//!
//! ```
//! use hubgate_client::authorization::AuthorizationRequest;
//!
//! let request = AuthorizationRequest::new(
//!     "https://hubgate.example",
//!     "hgc_0123",
//!     "https://integrator.example/callback",
//!     ["hubs:read", "accounts:read"],
//! )
//! .unwrap();
//! // Send the user's browser to `request.url()`; keep `request` until the
//! // redirect comes back with `code` and `state`.
//! assert!(request.url().starts_with("https://hubgate.example/identity/oauth/v2/authorize?"));
//! assert!(request.url().contains("code_challenge_method=S256"));
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::client::{Client, ClientBuilder, join};
use crate::error::Error;
use crate::token::{Grant, Secret};

/// A PKCE verifier (RFC 7636): 256 random bits, used once. Not `Clone`.
pub struct PkceVerifier(Secret);

impl PkceVerifier {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The S256 challenge: base64url(SHA-256(verifier)).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.expose().as_bytes()))
    }

    pub fn secret(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier(<redacted>)")
    }
}

/// One authorization in progress: the URL to send the user to, and what
/// checking and exchanging the answer needs.
#[derive(Debug)]
pub struct AuthorizationRequest {
    url: String,
    state: String,
    redirect_uri: String,
    base_url: String,
    verifier: PkceVerifier,
}

impl AuthorizationRequest {
    pub fn new<I, S>(
        base_url: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: I,
    ) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_path(
            base_url,
            crate::DEFAULT_AUTHORIZE_PATH,
            client_id,
            redirect_uri,
            scopes,
        )
    }

    pub fn with_path<I, S>(
        base_url: &str,
        authorize_path: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: I,
    ) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let verifier = PkceVerifier::generate();
        let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut url = url::Url::parse(&join(base_url, authorize_path))
            .map_err(|e| Error::Config(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &verifier.challenge())
            .append_pair("code_challenge_method", "S256");
        // Scopes are space-separated; encode the space as %20, as the guide's server expects.
        let url = url.to_string().replace('+', "%20");
        Ok(Self {
            url,
            state,
            redirect_uri: redirect_uri.to_owned(),
            base_url: base_url.to_owned(),
            verifier,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn state(&self) -> &str {
        &self.state
    }

    pub fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }

    /// Checks the returned `state`, exchanges the `code` (with the PKCE
    /// verifier, consuming it) and returns a client acting for the user,
    /// which refreshes its tokens as a client_credentials client does.
    pub async fn exchange(
        self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        returned_state: &str,
    ) -> Result<Client, Error> {
        if returned_state != self.state {
            return Err(Error::Config(
                "the returned state does not match: refusing a possibly forged answer".into(),
            ));
        }
        let client =
            ClientBuilder::from_client(Client::builder(&self.base_url), client_id, client_secret)
                .build_with(Grant::AuthorizationCode)?;
        let response = client
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", self.verifier.secret()),
            ])
            .await?;
        client.seed(response).await;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_rfc_7636_s256_of_the_verifier() {
        // RFC 7636 Appendix B.
        let verifier = PkceVerifier(Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(
            verifier.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = PkceVerifier::generate();
        assert_eq!(fresh.secret().len(), 43);
        assert_eq!(format!("{fresh:?}"), "PkceVerifier(<redacted>)");
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_with_spaces_as_percent_20() {
        let request = AuthorizationRequest::new(
            "https://h.example/",
            "hgc_1",
            "https://i.example/cb",
            ["sub", "hubs:read"],
        )
        .unwrap();
        let url = url::Url::parse(request.url()).unwrap();
        assert!(request.url().contains("scope=sub%20hubs%3Aread"));
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "hgc_1");
        assert_eq!(pairs["redirect_uri"], "https://i.example/cb");
        assert_eq!(pairs["state"], request.state());
        assert_eq!(pairs["code_challenge"], request.verifier().challenge());
        assert_eq!(url.path(), "/identity/oauth/v2/authorize");
    }
}
