//! Places backends for WHATSAT: a deterministic offline generator (the default, no key, no
//! network) and the legacy Google Places Nearby Search over HTTP, plus the trimming and
//! pretty-printing rules of protocol.md §5.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

mod google;
mod offline;

pub use google::{GooglePlaces, NEARBY_SEARCH_PATH};
pub use offline::{EARTH_RADIUS_M, offline_nearby};

/// Largest number of results Nearby Search returns on one page.
pub const PAGE_SIZE: usize = 20;

/// One Nearby Search request, with its fields already in the wire form Google expects:
/// `lat` and `lng` plain decimal without a `+`, `radius_m` in metres as plain decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbyQuery {
    pub lat: String,
    pub lng: String,
    pub radius_m: String,
}

/// Where WHATSAT answers come from.
#[derive(Debug, Clone)]
pub enum Places {
    /// Deterministic made-up places around the location.
    Offline,
    /// Legacy Nearby Search over HTTP.
    Google(GooglePlaces),
}

impl Places {
    /// The full Nearby Search response (untrimmed). Never fails: when the service cannot be
    /// reached or answers garbage, returns an object of the same shape with status
    /// `UNKNOWN_ERROR`, empty `results` and an `error_message` that never contains the key.
    pub async fn nearby(&self, query: &NearbyQuery) -> Value {
        match self {
            Places::Offline => offline_nearby(query),
            Places::Google(google) => google.nearby(query).await,
        }
    }
}

/// `results` cut to the first `bound` entries, pretty-printed with no blank line and no
/// trailing newline (protocol.md §5).
pub fn render_trimmed(response: &Value, bound: usize) -> String {
    // Printing a `Value` cannot fail (its keys are always strings).
    serde_json::to_string_pretty(&Trimmed { response, bound })
        .unwrap_or_else(|_| String::from("{}"))
}

/// Serializes a response as if its `results` array held only its first `bound` entries,
/// without copying anything.
struct Trimmed<'a> {
    response: &'a Value,
    bound: usize,
}

impl Serialize for Trimmed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = self.response else {
            return self.response.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (name, value) in fields {
            match value {
                Value::Array(items) if name == "results" => {
                    map.serialize_entry(name, &items[..items.len().min(self.bound)])?;
                }
                other => map.serialize_entry(name, other)?,
            }
        }
        map.end()
    }
}

/// The `status` field of a response, or `""`.
pub fn status_of(response: &Value) -> &str {
    response.get("status").and_then(Value::as_str).unwrap_or("")
}

/// A response of the Nearby Search shape with no results, the given status and an
/// `error_message`.
pub fn failure_response(status: &str, message: &str) -> Value {
    let mut fields = Map::with_capacity(4);
    fields.insert("html_attributions".into(), Value::Array(Vec::new()));
    fields.insert("results".into(), Value::Array(Vec::new()));
    fields.insert("status".into(), Value::String(status.into()));
    fields.insert("error_message".into(), Value::String(message.into()));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn query(lat: &str, lng: &str, radius: &str) -> NearbyQuery {
        NearbyQuery { lat: lat.into(), lng: lng.into(), radius_m: radius.into() }
    }

    fn response_with(n: usize) -> Value {
        let results: Vec<Value> =
            (0..n).map(|i| json!({"name": format!("place {i}"), "rating": 4.5})).collect();
        json!({
            "html_attributions": [],
            "next_page_token": "tok",
            "results": results,
            "status": "OK",
        })
    }

    fn names(rendered: &str) -> Vec<String> {
        let value: Value = serde_json::from_str(rendered).unwrap();
        value["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    }

    pub(super) fn assert_well_formed(rendered: &str) {
        assert!(!rendered.contains("\n\n"), "blank line in {rendered:?}");
        assert!(!rendered.ends_with('\n'), "trailing newline in {rendered:?}");
        assert!(!rendered.contains('\r'));
    }

    #[test]
    fn trims_to_bound() {
        let response = response_with(25);
        for (bound, expected) in [(0, 0), (1, 1), (5, 5), (20, 20), (25, 25), (100, 25)] {
            let rendered = render_trimmed(&response, bound);
            assert_well_formed(&rendered);
            let got = names(&rendered);
            assert_eq!(got.len(), expected, "bound {bound}");
            let want: Vec<String> = (0..expected).map(|i| format!("place {i}")).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn trimming_leaves_the_original_and_other_fields_alone() {
        let response = response_with(10);
        let rendered = render_trimmed(&response, 3);
        assert_eq!(response["results"].as_array().unwrap().len(), 10);
        let value: Value = serde_json::from_str(&rendered).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["html_attributions", "next_page_token", "results", "status"]);
        assert_eq!(value["next_page_token"], "tok");
        assert_eq!(value["status"], "OK");
    }

    #[test]
    fn renders_two_space_pretty_json() {
        let response = json!({"html_attributions": [], "results": [{"name": "A"}], "status": "OK"});
        let rendered = render_trimmed(&response, 5);
        assert_eq!(
            rendered,
            "{\n  \"html_attributions\": [],\n  \"results\": [\n    {\n      \"name\": \"A\"\n    }\n  ],\n  \"status\": \"OK\"\n}"
        );
    }

    #[test]
    fn trimming_tolerates_missing_or_odd_results() {
        let missing = json!({"html_attributions": [], "status": "UNKNOWN_ERROR"});
        let rendered = render_trimmed(&missing, 3);
        assert_well_formed(&rendered);
        assert_eq!(serde_json::from_str::<Value>(&rendered).unwrap(), missing);

        let not_array = json!({"results": "nope", "status": "OK"});
        let rendered = render_trimmed(&not_array, 0);
        assert_eq!(serde_json::from_str::<Value>(&rendered).unwrap(), not_array);

        let not_object = json!([1, 2, 3]);
        let rendered = render_trimmed(&not_object, 1);
        assert_eq!(serde_json::from_str::<Value>(&rendered).unwrap(), not_object);
        assert_well_formed(&rendered);
    }

    #[test]
    fn escaped_newlines_never_make_blank_lines() {
        let response = json!({
            "error_message": "line one\n\nline three\n",
            "html_attributions": ["a\n\nb"],
            "results": [{"name": "x\n\n\ny", "vicinity": "\r\n\r\n"}],
            "status": "OK",
        });
        let rendered = render_trimmed(&response, 1);
        assert_well_formed(&rendered);
        let back: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(back, response);
    }

    #[test]
    fn empty_results_render_without_blank_lines() {
        let rendered = render_trimmed(&failure_response("UNKNOWN_ERROR", "boom"), 5);
        assert_well_formed(&rendered);
        assert!(rendered.contains("\"results\": []"));
    }

    #[test]
    fn status_of_reads_the_status() {
        assert_eq!(status_of(&json!({"status": "OK"})), "OK");
        assert_eq!(status_of(&json!({"status": "OVER_QUERY_LIMIT"})), "OVER_QUERY_LIMIT");
        assert_eq!(status_of(&json!({"results": []})), "");
        assert_eq!(status_of(&json!({"status": 3})), "");
        assert_eq!(status_of(&json!([])), "");
        assert_eq!(status_of(&Value::Null), "");
    }

    #[test]
    fn failure_response_has_the_nearby_shape() {
        let value = failure_response("UNKNOWN_ERROR", "why");
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"html_attributions":[],"results":[],"status":"UNKNOWN_ERROR","error_message":"why"}"#
        );
    }

    #[tokio::test]
    async fn offline_backend_answers_through_nearby() {
        let q = query("34.068930", "-118.445127", "10000");
        let value = Places::Offline.nearby(&q).await;
        assert_eq!(value, offline_nearby(&q));
        assert_eq!(status_of(&value), "OK");
    }
}
