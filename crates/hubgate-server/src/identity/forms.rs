//! What the OAuth POST endpoints document as their bodies. `OAuthParams`
//! (params.rs) is the parser, lenient as RFC 6749 asks (unknown parameters
//! ignored); these types describe the same fields for the OpenAPI document,
//! and a test checks that every field here is one the parser reads.

use serde::Deserialize;
use utoipa::ToSchema;

/// The `client_credentials` grant: the guide's step 1.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "client_credentials", "client_id": "hgc_…", "client_secret": "hgs_…", "scope": "hubs:read hubs:write accounts:read"}))]
#[allow(dead_code)]
pub struct ClientCredentialsForm {
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    /// With client_secret_post; leave out when using HTTP Basic.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Space-separated; default: every scope of the integration.
    scope: Option<String>,
}

/// The `refresh_token` grant: the guide's step 3. The old refresh token dies.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "refresh_token", "refresh_token": "hgr_…", "client_id": "hgc_…", "client_secret": "hgs_…", "redirect_uri": "https://integrator.example/callback"}))]
#[allow(dead_code)]
pub struct RefreshTokenForm {
    #[schema(pattern = "^refresh_token$")]
    grant_type: String,
    refresh_token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Optional; when sent it must be one the integration registered.
    redirect_uri: Option<String>,
    /// Optional; may only narrow the original scope.
    scope: Option<String>,
}

/// The `authorization_code` grant: trade the code the redirect brought back.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "authorization_code", "code": "hga_…", "redirect_uri": "https://integrator.example/callback", "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "client_id": "hgc_…", "client_secret": "hgs_…"}))]
#[allow(dead_code)]
pub struct AuthorizationCodeForm {
    #[schema(pattern = "^authorization_code$")]
    grant_type: String,
    code: String,
    /// Exactly the one sent to the authorization endpoint.
    redirect_uri: String,
    /// The PKCE verifier (RFC 7636); required when a challenge was sent.
    code_verifier: Option<String>,
    /// The guide's spelling of `code_verifier`; either is accepted.
    #[serde(rename = "codeVerifier")]
    code_verifier_camel: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The parameters of one grant.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum TokenForm {
    ClientCredentials(ClientCredentialsForm),
    RefreshToken(RefreshTokenForm),
    AuthorizationCode(AuthorizationCodeForm),
}

/// A token to introspect or revoke, and the caller's credentials.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenLookupForm {
    token: String,
    /// `access_token` or `refresh_token`; hubgate tells them apart by form.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    use super::*;
    use crate::identity::params::OAuthParams;

    fn properties(schema: RefOr<utoipa::openapi::schema::Schema>) -> Vec<String> {
        match schema {
            RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
            _ => panic!("not an object schema"),
        }
    }

    /// A documented field the parser ignored would leave every field empty.
    fn parser_reads(field: &str) -> bool {
        let body = serde_json::json!({ field: "probe" });
        let params: OAuthParams = serde_json::from_value(body).expect("parses");
        format!("{params:?}").contains("\"probe\"")
    }

    #[test]
    fn every_documented_field_is_one_the_parser_reads() {
        let documented = [
            properties(ClientCredentialsForm::schema()),
            properties(RefreshTokenForm::schema()),
            properties(AuthorizationCodeForm::schema()),
            properties(TokenLookupForm::schema()),
        ]
        .concat();
        assert!(documented.len() > 10);
        assert!(!parser_reads("not_a_parameter"), "the check can fail");
        for field in documented {
            if field == "token_type_hint" {
                continue; // accepted and, as RFC 7009 allows, not read
            }
            assert!(parser_reads(&field), "{field} is documented but not parsed");
        }
    }
}
