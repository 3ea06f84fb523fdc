//! A client of the office HTTP API for tests: JSON in, status and JSON out,
//! signed in as a user (session token) or with an API key.

use std::sync::Arc;

use serde_json::Value;
use tokio::runtime::Runtime;

/// An API caller.
pub struct ApiClient {
    rt: Arc<Runtime>,
    base: String,
    bearer: String,
    http: reqwest::Client,
}

/// An answer: status, `Content-Type`, body as JSON (`Null` if it is not).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body as JSON.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl ApiClient {
    /// Signs `user` in (test password) on `base`.
    pub fn signed_in(rt: &Arc<Runtime>, base: &str, user: &str) -> ApiClient {
        let token = rt.block_on(crate::raw::token(base, user));
        ApiClient::with_bearer(rt, base, &token)
    }

    /// A caller presenting `bearer` (a session token or an API key).
    pub fn with_bearer(rt: &Arc<Runtime>, base: &str, bearer: &str) -> ApiClient {
        ApiClient {
            rt: rt.clone(),
            base: base.to_owned(),
            bearer: bearer.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    /// `PATCH path` with a JSON body.
    pub fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None)
    }

    /// Sends one request.
    pub fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        self.rt.block_on(async {
            let mut request = self
                .http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.bearer);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("API request");
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = response.text().await.expect("API body");
            let json = serde_json::from_str(&text).unwrap_or(Value::Null);
            Answer {
                status,
                content_type,
                json,
                text,
            }
        })
    }
}
