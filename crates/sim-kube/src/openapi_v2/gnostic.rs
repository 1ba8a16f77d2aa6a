//! A Swagger 2.0 document (JSON) as the `openapi.v2.Document` protobuf message of
//! github.com/google/gnostic (`openapiv2/OpenAPIv2.proto`), which client-go asks
//! `/openapi/v2` for. Extensions and defaults are `Any` messages holding YAML text (the JSON
//! text of the value, which YAML reads as it is). Keys the message has no field for are left
//! out.

use serde_json::{Map, Value};

use crate::protobuf::wire::Writer;

/// The `Document` message of the Swagger document `doc`.
pub fn document(doc: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    string(&mut w, 1, doc.get("swagger"));
    if let Some(info) = doc.get("info") {
        let mut i = Writer::new();
        string(&mut i, 1, info.get("title"));
        string(&mut i, 2, info.get("version"));
        w.bytes(2, &i.finish());
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut p = Writer::new();
        for (path, item) in paths {
            p.bytes(2, &named(path, &path_item(item)));
        }
        w.bytes(8, &p.finish());
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        w.bytes(9, &named_schemas(defs));
    }
    w.finish()
}

/// A `Named*` entry: `{1: name, 2: value}`.
fn named(name: &str, value: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(1, name.as_bytes());
    w.bytes(2, value);
    w.finish()
}

/// A message of `repeated NamedSchema additional_properties = 1` (`Definitions`,
/// `Properties`).
fn named_schemas(schemas: &Map<String, Value>) -> Vec<u8> {
    let mut w = Writer::new();
    for (name, s) in schemas {
        w.bytes(1, &named(name, &schema(s)));
    }
    w.finish()
}

fn string(w: &mut Writer, number: u32, v: Option<&Value>) {
    if let Some(s) = v.and_then(Value::as_str) {
        w.bytes(number, s.as_bytes());
    }
}

fn strings(w: &mut Writer, number: u32, v: Option<&Value>) {
    for s in v.and_then(Value::as_array).into_iter().flatten() {
        string(w, number, Some(s));
    }
}

fn boolean(w: &mut Writer, number: u32, v: Option<&Value>) {
    if v.and_then(Value::as_bool) == Some(true) {
        w.varint(number, 1);
    }
}

fn integer(w: &mut Writer, number: u32, v: Option<&Value>) {
    if let Some(n) = v.and_then(Value::as_i64) {
        w.varint(number, n as u64);
    }
}

fn double(w: &mut Writer, number: u32, v: Option<&Value>) {
    if let Some(n) = v.and_then(Value::as_f64) {
        w.double(number, n);
    }
}

/// An `Any` holding `v` as YAML text.
fn any(v: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(2, v.to_string().as_bytes());
    w.finish()
}

/// The `x-` keys of `object` as `NamedAny` entries in field `number`.
fn extensions(w: &mut Writer, number: u32, object: &Value) {
    for (key, v) in object.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            w.bytes(number, &named(key, &any(v)));
        }
    }
}

/// A `Schema` message.
fn schema(s: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    string(&mut w, 1, s.get("$ref"));
    string(&mut w, 2, s.get("format"));
    string(&mut w, 3, s.get("title"));
    string(&mut w, 4, s.get("description"));
    if let Some(d) = s.get("default") {
        w.bytes(5, &any(d));
    }
    double(&mut w, 6, s.get("multipleOf"));
    double(&mut w, 7, s.get("maximum"));
    boolean(&mut w, 8, s.get("exclusiveMaximum"));
    double(&mut w, 9, s.get("minimum"));
    boolean(&mut w, 10, s.get("exclusiveMinimum"));
    integer(&mut w, 11, s.get("maxLength"));
    integer(&mut w, 12, s.get("minLength"));
    string(&mut w, 13, s.get("pattern"));
    integer(&mut w, 14, s.get("maxItems"));
    integer(&mut w, 15, s.get("minItems"));
    boolean(&mut w, 16, s.get("uniqueItems"));
    integer(&mut w, 17, s.get("maxProperties"));
    integer(&mut w, 18, s.get("minProperties"));
    strings(&mut w, 19, s.get("required"));
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.bytes(20, &any(e));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Writer::new();
            a.varint(2, u64::from(*b));
            w.bytes(21, &a.finish());
        }
        Some(sub @ Value::Object(_)) => {
            let mut a = Writer::new();
            a.bytes(1, &schema(sub));
            w.bytes(21, &a.finish());
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => {
            let mut t_w = Writer::new();
            t_w.bytes(1, t.as_bytes());
            w.bytes(22, &t_w.finish());
        }
        Some(Value::Array(ts)) => {
            let mut t_w = Writer::new();
            strings(&mut t_w, 1, Some(&Value::Array(ts.clone())));
            w.bytes(22, &t_w.finish());
        }
        _ => {}
    }
    let items: Vec<&Value> = match s.get("items") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    if !items.is_empty() {
        let mut i = Writer::new();
        for item in items {
            i.bytes(1, &schema(item));
        }
        w.bytes(23, &i.finish());
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.bytes(24, &schema(sub));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        w.bytes(25, &named_schemas(props));
    }
    boolean(&mut w, 27, s.get("readOnly"));
    if let Some(e) = s.get("example") {
        w.bytes(30, &any(e));
    }
    extensions(&mut w, 31, s);
    w.finish()
}

/// A `PathItem` message.
fn path_item(item: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    for (method, number) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("patch", 8),
    ] {
        if let Some(op) = item.get(method) {
            w.bytes(number, &operation(op));
        }
    }
    extensions(&mut w, 10, item);
    w.finish()
}

/// An `Operation` message.
fn operation(op: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    string(&mut w, 3, op.get("description"));
    string(&mut w, 5, op.get("operationId"));
    strings(&mut w, 6, op.get("produces"));
    strings(&mut w, 7, op.get("consumes"));
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut item = Writer::new();
        item.bytes(1, &parameter(p));
        w.bytes(8, &item.finish());
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        let mut r = Writer::new();
        for (code, response) in responses {
            let mut resp = Writer::new();
            string(&mut resp, 1, response.get("description"));
            if let Some(s) = response.get("schema") {
                let mut item = Writer::new();
                item.bytes(1, &schema(s));
                resp.bytes(2, &item.finish());
            }
            let mut value = Writer::new();
            value.bytes(1, &resp.finish());
            r.bytes(1, &named(code, &value.finish()));
        }
        w.bytes(9, &r.finish());
    }
    extensions(&mut w, 13, op);
    w.finish()
}

/// A `Parameter` message: a body parameter, or a query or path one.
fn parameter(p: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    let place = p.get("in").and_then(Value::as_str).unwrap_or("query");
    if place == "body" {
        let mut b = Writer::new();
        string(&mut b, 1, p.get("description"));
        string(&mut b, 2, p.get("name"));
        b.bytes(3, b"body");
        boolean(&mut b, 4, p.get("required"));
        if let Some(s) = p.get("schema") {
            b.bytes(5, &schema(s));
        }
        w.bytes(1, &b.finish());
        return w.finish();
    }
    // Query parameters (`QueryParameterSubSchema`, oneof field 3) and path parameters
    // (`PathParameterSubSchema`, field 4) share their first fields; their `type` is 6 and 5.
    let (oneof, type_number, unique_number) = if place == "path" {
        (4, 5, 19)
    } else {
        (3, 6, 20)
    };
    let mut q = Writer::new();
    boolean(&mut q, 1, p.get("required"));
    q.bytes(2, place.as_bytes());
    string(&mut q, 3, p.get("description"));
    string(&mut q, 4, p.get("name"));
    string(&mut q, type_number, p.get("type"));
    boolean(&mut q, unique_number, p.get("uniqueItems"));
    let mut non_body = Writer::new();
    non_body.bytes(oneof, &q.finish());
    w.bytes(2, &non_body.finish());
    w.finish()
}
