//! Field tables: how the fields of one Kubernetes message map between their protobuf numbers
//! and their JSON names and types.

/// One protobuf message type of the Kubernetes API.
pub struct Message {
    /// The message's name in its `generated.proto` (for error messages).
    pub name: &'static str,
    /// Its fields, in ascending field number (the order Go writes them in).
    pub fields: &'static [Field],
}

impl Message {
    /// The field numbered `number`, if the table has it.
    pub fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field: its number, JSON name, value type and cardinality.
pub struct Field {
    /// The protobuf field number.
    pub number: u32,
    /// The JSON name.
    pub json: &'static str,
    /// The value type (of each element, for repeated fields and maps).
    pub kind: Kind,
    /// How often the field occurs and when it is written.
    pub shape: Shape,
}

/// The value type of a field.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A UTF-8 string.
    String,
    /// Bytes; base64 text in JSON.
    Bytes,
    /// A signed 32-bit integer (varint).
    Int32,
    /// A signed 64-bit integer (varint).
    Int64,
    /// A boolean (varint).
    Bool,
    /// `meta/v1` `Time` (seconds and nanos); RFC 3339 with whole seconds in JSON.
    Time,
    /// `meta/v1` `MicroTime`; RFC 3339 with microseconds in JSON.
    MicroTime,
    /// A message whose field 1 holds JSON text (`FieldsV1`, `RawExtension`); that JSON value
    /// itself in JSON.
    EmbeddedJson,
    /// A nested message.
    Message(&'static Message),
}

/// How a field occurs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A Go value field: always written (its zero value when absent from the JSON); a zero
    /// scalar is left out of the JSON, as `omitempty` does.
    Value,
    /// A Go pointer field: written only when present; a zero value is kept.
    Pointer,
    /// A repeated field (a JSON array).
    Repeated,
    /// `map<string, Kind>`: repeated entries `{1: key, 2: value}` (a JSON object).
    Map,
}

/// A [`Shape::Value`] field.
pub const fn value(number: u32, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        shape: Shape::Value,
    }
}

/// A [`Shape::Pointer`] field.
pub const fn pointer(number: u32, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        shape: Shape::Pointer,
    }
}

/// A [`Shape::Repeated`] field.
pub const fn repeated(number: u32, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        shape: Shape::Repeated,
    }
}

/// A [`Shape::Map`] field with string keys.
pub const fn map(number: u32, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        shape: Shape::Map,
    }
}
