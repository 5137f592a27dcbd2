//! A text-only `multipart/form-data` body (RFC 7578), for the provider endpoints documented as
//! taking forms (Ideogram v3). No crate builds one without an HTTP client attached, and core
//! must stay free of them; text fields are all molts sends, so this is all it needs.
//!
//! The boundary is deterministic (a fixed prefix and a digest of the values, so a value cannot
//! be made to contain it without knowing it first) and is then checked against every value,
//! lengthened until no value contains it.

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// How every boundary starts.
const BOUNDARY_PREFIX: &str = "molts-form-";

/// Text fields in the order they are sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Form {
    fields: Vec<(&'static str, String)>,
}

/// A form ready to send: its `Content-Type` header value and its body.
#[derive(Debug, Clone)]
pub(crate) struct EncodedForm {
    /// `multipart/form-data; boundary=…`.
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
}

impl Form {
    /// An empty form.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds the text field `name` (one of molts' own constants, never caller input; escaped
    /// all the same).
    pub(crate) fn text(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.fields.push((name, value.into()));
        self
    }

    /// The fields as sent, for tests.
    #[cfg(test)]
    pub(crate) fn fields(&self) -> &[(&'static str, String)] {
        &self.fields
    }

    /// The body: per field `--boundary CRLF`, its `Content-Disposition`, an empty line and the
    /// value as is (CRLF inside a value is allowed), then `--boundary--`.
    pub(crate) fn encode(&self) -> EncodedForm {
        self.encode_with(candidate(&self.fields))
    }

    /// [`Form::encode`] with the boundary grown from `candidate`.
    fn encode_with(&self, candidate: String) -> EncodedForm {
        let boundary = unique(candidate, self.fields.iter().map(|(_, v)| v.as_str()));
        let mut body = Vec::with_capacity(
            self.fields
                .iter()
                .map(|(n, v)| n.len() + v.len() + boundary.len() + 64)
                .sum::<usize>()
                + boundary.len()
                + 8,
        );
        for (name, value) in &self.fields {
            body.extend_from_slice(b"--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(escape_name(name).as_bytes());
            body.extend_from_slice(b"\"\r\n\r\n");
            body.extend_from_slice(value.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"--\r\n");
        EncodedForm {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body: Bytes::from(body),
        }
    }
}

/// A field name inside its quotes, escaped as HTML forms do (RFC 7578 §2, WHATWG's form
/// encoding): `"` as `%22`, CR as `%0D`, LF as `%0A`.
fn escape_name(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The prefix and the first 24 hex digits of a digest of the fields.
fn candidate(fields: &[(&'static str, String)]) -> String {
    let mut digest = Sha256::new();
    for (name, value) in fields {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(value.as_bytes());
        digest.update([0]);
    }
    format!("{BOUNDARY_PREFIX}{}", &hex::encode(digest.finalize())[..24])
}

/// `candidate`, lengthened one character at a time until no value contains it. A longer string
/// occurs only where a shorter prefix of it does, so this ends once it outgrows every value.
fn unique<'a>(mut candidate: String, values: impl Iterator<Item = &'a str> + Clone) -> String {
    const MORE: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut i = 0;
    while values.clone().any(|v| v.contains(candidate.as_str())) {
        candidate.push(char::from(MORE[i % MORE.len()]));
        i += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text(form: &EncodedForm) -> String {
        String::from_utf8(form.body.to_vec()).unwrap_or_default()
    }

    fn boundary_of(form: &EncodedForm) -> &str {
        form.content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_default()
    }

    #[test]
    fn fields_are_encoded_with_crlf_and_a_closing_delimiter() {
        let mut form = Form::new();
        form.text("prompt", "a neon sign").text("num_images", "2");
        let encoded = form.encode();
        let b = boundary_of(&encoded).to_owned();
        assert!(b.starts_with(BOUNDARY_PREFIX) && b.len() <= 70, "{b}");
        assert_eq!(
            text(&encoded),
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na neon sign\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"num_images\"\r\n\r\n2\r\n\
                 --{b}--\r\n"
            )
        );
        // Deterministic: the same fields make the same body.
        assert_eq!(form.encode().body, encoded.body);
    }

    #[test]
    fn values_keep_quotes_and_line_breaks_and_never_contain_the_boundary() {
        let value = "say \"hi\"\r\nthen\nleave --";
        let mut form = Form::new();
        form.text("prompt", value);
        let encoded = form.encode();
        let b = boundary_of(&encoded).to_owned();
        let body = text(&encoded);
        assert!(
            body.contains(&format!("\r\n\r\n{value}\r\n--{b}--\r\n")),
            "{body}"
        );
        assert_eq!(body.matches(b.as_str()).count(), 2, "{body}");
    }

    #[test]
    fn a_boundary_found_in_a_value_is_lengthened_until_it_is_not() {
        let candidate = format!("{BOUNDARY_PREFIX}x");
        let values = [format!(
            "before {candidate} after {candidate}0 and {candidate}01"
        )];
        let b = unique(candidate.clone(), values.iter().map(String::as_str));
        assert_eq!(b, format!("{candidate}012"));
        assert!(!values[0].contains(&b));
        // Already absent: kept as it is.
        assert_eq!(
            unique(candidate.clone(), ["nothing"].into_iter()),
            candidate
        );
    }

    #[test]
    fn a_value_holding_the_candidate_boundary_gets_a_longer_one() {
        let candidate = format!("{BOUNDARY_PREFIX}fixed");
        let mut form = Form::new();
        form.text("prompt", format!("a\r\n--{candidate}\r\nb"))
            .text("style_type", "GENERAL");
        let encoded = form.encode_with(candidate.clone());
        let b = boundary_of(&encoded).to_owned();
        assert_eq!(b, format!("{candidate}0"));
        assert!(form.fields().iter().all(|(_, v)| !v.contains(&b)));
        // Three delimiters and the closing one: the planted text is not one of them.
        let body = text(&encoded);
        assert_eq!(body.matches(&format!("--{b}")).count(), 3, "{body}");
        assert!(body.ends_with(&format!("\r\n--{b}--\r\n")));
    }

    #[test]
    fn a_value_cannot_plant_the_boundary_it_would_get() {
        // The boundary a form of one value would get, planted in the value: the value then
        // differs, and so does its boundary.
        let mut probe = Form::new();
        probe.text("prompt", "x");
        let planted = boundary_of(&probe.encode()).to_owned();
        let mut form = Form::new();
        form.text("prompt", format!("x{planted}"));
        let encoded = form.encode();
        let b = boundary_of(&encoded);
        assert_ne!(b, planted);
        assert_eq!(text(&encoded).matches(b).count(), 2);
    }

    #[test]
    fn names_are_escaped_inside_their_quotes() {
        assert_eq!(escape_name("a\"b\r\nc"), "a%22b%0D%0Ac");
        assert_eq!(escape_name("style_type"), "style_type");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_values_round_trip_through_the_body(
            values in proptest::collection::vec(
                prop_oneof![any::<String>(), "(--|molts-form-|\r\n|[0-9a-f]){0,12}"],
                0..5,
            ),
        ) {
            const NAMES: [&str; 5] = ["prompt", "a\"b", "c\r\nd", "num_images", "style"];
            let mut form = Form::new();
            for (name, value) in NAMES.iter().zip(&values) {
                form.text(name, value.clone());
            }
            let encoded = form.encode();
            let b = boundary_of(&encoded).to_owned();
            prop_assert!(b.len() <= 70, "RFC 2046 caps a boundary at 70 characters: {}", b);
            prop_assert!(values.iter().all(|v| !v.contains(&b)));
            // Split on the delimiter the way a server does, and get every value back.
            let body = text(&encoded);
            let delimiter = format!("--{b}");
            let parts: Vec<&str> = body.split(delimiter.as_str()).collect();
            prop_assert_eq!(parts.len(), values.len() + 2);
            prop_assert_eq!(parts[parts.len() - 1], "--\r\n");
            for (part, value) in parts[1..parts.len() - 1].iter().zip(&values) {
                let got = part
                    .split_once("\r\n\r\n")
                    .and_then(|(_, rest)| rest.strip_suffix("\r\n"));
                prop_assert_eq!(got, Some(value.as_str()));
            }
        }
    }
}
