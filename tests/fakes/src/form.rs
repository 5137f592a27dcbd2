//! `multipart/form-data` request bodies (Ideogram v3 documents its generate endpoint as one),
//! parsed with `multer` into a JSON object of their text fields, so handlers read a form as
//! they read JSON and the request log shows what was sent.

use axum::body::Bytes;
use serde_json::{Map, Value};

/// Whether `content_type` is `multipart/form-data` (with whatever parameters).
pub(crate) fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The form's fields as `{"name": "value", …}` (a repeated name keeps its last value), or why
/// the body is not a well-formed form: no boundary, a broken part, a field without a name or
/// with a value that is not UTF-8.
pub(crate) async fn fields(content_type: &str, body: Bytes) -> Result<Value, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or_else(|| "a part has no field name".to_owned())?;
        let value = field.text().await.map_err(|e| e.to_string())?;
        fields.insert(name, Value::String(value));
    }
    Ok(Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    fn parse(body: &'static str) -> Result<Value, String> {
        futures::executor::block_on(fields(TYPE, Bytes::from_static(body.as_bytes())))
    }

    #[test]
    fn text_fields_become_a_json_object() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na\r\nb\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"num_images\"\r\n\r\n2\r\n\
                    --XyZ--\r\n";
        assert_eq!(
            parse(body),
            Ok(serde_json::json!({"prompt": "a\r\nb", "num_images": "2"}))
        );
        assert!(is_form("Multipart/Form-Data; boundary=x") && !is_form("application/json"));
    }

    #[test]
    fn a_broken_form_is_an_error() {
        // Never closed.
        assert!(parse("--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx").is_err());
        // No boundary parameter.
        let no_boundary =
            futures::executor::block_on(fields("multipart/form-data", Bytes::from_static(b"x")));
        assert!(no_boundary.is_err());
    }
}
