//! JSON batching (`$batch`; reference/ews-and-graph-protocol.md 3): up to
//! 20 GETs in one request, each answered on its own, with a status and a
//! body, in any order; the batch's 200 says nothing of them. A request
//! throttled inside the batch (an inner 429 or 503), or one whose URL lies
//! outside this Graph endpoint, is sent again alone, where the usual
//! waiting applies.

use super::{Graph, error};
use crate::error::{Error, Kind, Result};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The most requests Graph takes in one batch.
pub const MAX_REQUESTS: usize = 20;

impl Graph {
    /// GET each of `urls` (full URLs, as [`Graph::url`] makes them), in
    /// batches; the answers in the order of `urls`.
    pub fn get_each(&mut self, urls: &[String]) -> Result<Vec<Result<Value>>> {
        let base = self.url("");
        let mut answers: Vec<Option<Result<Value>>> = urls.iter().map(|_| None).collect();
        let inside: Vec<usize> = (0..urls.len()).filter(|&i| urls[i].starts_with(&base)).collect();
        for chunk in inside.chunks(MAX_REQUESTS) {
            let requests: Vec<Value> = chunk
                .iter()
                .map(|&i| json!({ "id": i.to_string(), "method": "GET", "url": format!("/{}", &urls[i][base.len()..]), "headers": { "Prefer": self.prefer() } }))
                .collect();
            let body = json!({ "requests": requests }).to_string();
            let batch_url = self.url("$batch");
            let batch: Value = self.send(&batch_url, Some(body.as_bytes()), u64::MAX, |bytes| {
                serde_json::from_slice(&bytes).map_err(|e| Error::transient(Kind::Protocol, format!("{batch_url} answered with JSON we cannot read: {e}"), None))
            })?;
            let mut by_id: HashMap<String, &Value> = HashMap::new();
            for response in batch["responses"].as_array().into_iter().flatten() {
                if let Some(id) = response["id"].as_str() {
                    by_id.insert(id.to_string(), response);
                }
            }
            for &i in chunk {
                let Some(response) = by_id.get(&i.to_string()) else {
                    return Err(Error::new(Kind::Protocol, format!("{batch_url} did not answer the request for {}", urls[i])));
                };
                let status = response["status"].as_u64().unwrap_or(0) as u16;
                answers[i] = match status {
                    200..=299 => Some(Ok(response["body"].clone())),
                    429 | 503 => None,
                    _ => Some(Err(error(&urls[i], status, &response["body"].to_string()))),
                };
            }
        }
        // Throttled inside the batch, or elsewhere: alone.
        for (i, answer) in answers.iter_mut().enumerate() {
            if answer.is_none() {
                *answer = Some(self.get(&urls[i]));
            }
        }
        Ok(answers.into_iter().map(|a| a.expect("every request answered above")).collect())
    }
}
