//! Typed answers, after crates.io's `Response<T>`: the body is read at once,
//! so a test asserts on status, headers and body without awaiting again, and
//! `ok()` both checks success and gives the `hubgate_api` type.

use std::marker::PhantomData;

use hubgate_api::ErrorBody;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

/// An answer whose successful body is a `T`.
pub struct TestResponse<T> {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    body_type: PhantomData<fn() -> T>,
}

impl<T> TestResponse<T> {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("response body").to_vec();
        Self {
            status,
            headers,
            body,
            body_type: PhantomData,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Status and `error` code of a JSON error answer.
    #[track_caller]
    pub fn error(&self) -> (u16, String) {
        let code = self.error_body().error;
        (self.status.as_u16(), code.as_str().to_owned())
    }

    #[track_caller]
    pub fn error_body(&self) -> ErrorBody {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not a JSON error body ({e}): {}", self.text()))
    }
}

impl<T: DeserializeOwned> TestResponse<T> {
    /// Asserts a 2xx answer and reads its body as `T`.
    #[track_caller]
    pub fn ok(self) -> T {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not a {} ({e}): {}",
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }
}
