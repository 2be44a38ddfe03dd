//! JSON batching (reference/ews-and-graph-protocol.md 3, "JSON batching",
//! and 6, what an emulator should do: "`$batch` with per-item
//! 429"):
//! `POST /v1.0/$batch` with at most 20 requests, each with an `id`, a
//! `method` and a `url` relative to the version; each is answered as if
//! sent alone, with its own status, headers and body, and the batch is 200
//! whatever they say. Only GET is served here, as for single requests.
//! `dependsOn` is not: this emulator answers in order anyway.

use super::{Answer, answer, graph_error};
use serde_json::{Value, json};

/// The most requests a batch may hold.
pub const MAX_REQUESTS: usize = 20;

/// `get` answers one request by its path and query under `/v1.0`, with
/// its `Prefer` header.
pub fn answer_batch(body: &[u8], mut get: impl FnMut(&str, Option<&str>) -> Answer) -> Answer {
    let Ok(batch) = serde_json::from_slice::<Value>(body) else {
        return graph_error(400, "BadRequest", "Invalid batch payload format.");
    };
    let Some(requests) = batch["requests"].as_array() else {
        return graph_error(400, "BadRequest", "Invalid batch payload format.");
    };
    // Not in ../shared: the words of the refusals below are ours.
    if requests.is_empty() || requests.len() > MAX_REQUESTS {
        return graph_error(400, "BadRequest", &format!("A batch holds 1 to {MAX_REQUESTS} requests; this one has {}.", requests.len()));
    }
    let mut ids = std::collections::HashSet::new();
    let mut responses = Vec::new();
    for request in requests {
        let (Some(id), Some(url)) = (request["id"].as_str(), request["url"].as_str()) else {
            return graph_error(400, "BadRequest", "Each request of a batch needs an id and a url.");
        };
        if !ids.insert(id) {
            return graph_error(400, "BadRequest", &format!("The id {id} is used by more than one request of the batch."));
        }
        let method = request["method"].as_str().unwrap_or_default();
        let one = if method.eq_ignore_ascii_case("GET") {
            let prefer = request["headers"].as_object().and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("prefer"))).and_then(|(_, v)| v.as_str());
            get(&format!("/v1.0/{}", url.trim_start_matches('/')), prefer)
        } else {
            graph_error(405, "BadRequest", "Only GET is served here.")
        };
        let mut headers = json!({ "Content-Type": "application/json; odata.metadata=minimal" });
        if let Some(seconds) = one.retry_after {
            headers["Retry-After"] = json!(seconds.to_string());
        }
        let body: Value = serde_json::from_str(&one.body).unwrap_or(Value::Null);
        responses.push(json!({ "id": id, "status": one.status, "headers": headers, "body": body }));
    }
    let mut batch = answer(200, json!({ "responses": responses }));
    batch.operation = "Graph $batch";
    batch
}
