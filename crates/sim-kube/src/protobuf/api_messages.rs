//! Messages of the built-in kinds the emulator serves (`k8s.io/api/core/v1`,
//! `coordination/v1` and `events/v1` `generated.proto`), their lists, and the table of kinds
//! by `apiVersion` and `kind`.

use super::fields::{Kind, Message, map, pointer, repeated, value};
use super::meta_messages::{DELETE_OPTIONS, LIST_META, OBJECT_META, STATUS};

/// The message of objects of `kind` in `api_version`, if the codec knows it.
pub fn message_of(api_version: &str, kind: &str) -> Option<&'static Message> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "NamespaceList") => &NAMESPACE_LIST,
        ("v1", "Secret") => &SECRET,
        ("v1", "SecretList") => &SECRET_LIST,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "ConfigMapList") => &CONFIG_MAP_LIST,
        ("v1", "Event") => &CORE_EVENT,
        ("v1", "EventList") => &CORE_EVENT_LIST,
        ("v1", "Status") => &STATUS,
        ("coordination.k8s.io/v1", "Lease") => &LEASE,
        ("coordination.k8s.io/v1", "LeaseList") => &LEASE_LIST,
        ("events.k8s.io/v1", "Event") => &EVENT,
        ("events.k8s.io/v1", "EventList") => &EVENT_LIST,
        // Clients send DeleteOptions in the version of the resource they delete.
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => return None,
    })
}

/// `metadata` of an object.
const METADATA: super::fields::Field = value(1, "metadata", Kind::Message(&OBJECT_META));
/// `metadata` of a list.
const LIST_METADATA: super::fields::Field = value(1, "metadata", Kind::Message(&LIST_META));

/// core/v1 `Namespace`.
pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        METADATA,
        value(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        value(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[repeated(1, "finalizers", Kind::String)],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        value(1, "phase", Kind::String),
        repeated(2, "conditions", Kind::Message(&NAMESPACE_CONDITION)),
    ],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        value(1, "type", Kind::String),
        value(2, "status", Kind::String),
        value(4, "lastTransitionTime", Kind::Time),
        value(5, "reason", Kind::String),
        value(6, "message", Kind::String),
    ],
};

/// core/v1 `Secret` (`data` is bytes, base64 in JSON).
pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        METADATA,
        map(2, "data", Kind::Bytes),
        value(3, "type", Kind::String),
        map(4, "stringData", Kind::String),
        pointer(5, "immutable", Kind::Bool),
    ],
};

/// core/v1 `ConfigMap`.
pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        METADATA,
        map(2, "data", Kind::String),
        map(3, "binaryData", Kind::Bytes),
        pointer(4, "immutable", Kind::Bool),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        value(1, "kind", Kind::String),
        value(2, "namespace", Kind::String),
        value(3, "name", Kind::String),
        value(4, "uid", Kind::String),
        value(5, "apiVersion", Kind::String),
        value(6, "resourceVersion", Kind::String),
        value(7, "fieldPath", Kind::String),
    ],
};

static EVENT_SOURCE: Message = Message {
    name: "EventSource",
    fields: &[
        value(1, "component", Kind::String),
        value(2, "host", Kind::String),
    ],
};

/// `EventSeries` (the same fields in core/v1 and events/v1).
static EVENT_SERIES: Message = Message {
    name: "EventSeries",
    fields: &[
        value(1, "count", Kind::Int32),
        value(2, "lastObservedTime", Kind::MicroTime),
    ],
};

/// core/v1 `Event`.
pub static CORE_EVENT: Message = Message {
    name: "Event",
    fields: &[
        METADATA,
        value(2, "involvedObject", Kind::Message(&OBJECT_REFERENCE)),
        value(3, "reason", Kind::String),
        value(4, "message", Kind::String),
        value(5, "source", Kind::Message(&EVENT_SOURCE)),
        value(6, "firstTimestamp", Kind::Time),
        value(7, "lastTimestamp", Kind::Time),
        value(8, "count", Kind::Int32),
        value(9, "type", Kind::String),
        value(10, "eventTime", Kind::MicroTime),
        pointer(11, "series", Kind::Message(&EVENT_SERIES)),
        value(12, "action", Kind::String),
        pointer(13, "related", Kind::Message(&OBJECT_REFERENCE)),
        value(14, "reportingComponent", Kind::String),
        value(15, "reportingInstance", Kind::String),
    ],
};

/// events.k8s.io/v1 `Event`.
pub static EVENT: Message = Message {
    name: "Event",
    fields: &[
        METADATA,
        value(2, "eventTime", Kind::MicroTime),
        pointer(3, "series", Kind::Message(&EVENT_SERIES)),
        value(4, "reportingController", Kind::String),
        value(5, "reportingInstance", Kind::String),
        value(6, "action", Kind::String),
        value(7, "reason", Kind::String),
        value(8, "regarding", Kind::Message(&OBJECT_REFERENCE)),
        pointer(9, "related", Kind::Message(&OBJECT_REFERENCE)),
        value(10, "note", Kind::String),
        value(11, "type", Kind::String),
        value(12, "deprecatedSource", Kind::Message(&EVENT_SOURCE)),
        value(13, "deprecatedFirstTimestamp", Kind::Time),
        value(14, "deprecatedLastTimestamp", Kind::Time),
        value(15, "deprecatedCount", Kind::Int32),
    ],
};

/// coordination.k8s.io/v1 `Lease`.
pub static LEASE: Message = Message {
    name: "Lease",
    fields: &[METADATA, value(2, "spec", Kind::Message(&LEASE_SPEC))],
};

static LEASE_SPEC: Message = Message {
    name: "LeaseSpec",
    fields: &[
        pointer(1, "holderIdentity", Kind::String),
        pointer(2, "leaseDurationSeconds", Kind::Int32),
        pointer(3, "acquireTime", Kind::MicroTime),
        pointer(4, "renewTime", Kind::MicroTime),
        pointer(5, "leaseTransitions", Kind::Int32),
        pointer(6, "strategy", Kind::String),
        pointer(7, "preferredHolder", Kind::String),
    ],
};

/// A list message of items of `item`.
macro_rules! list {
    ($name:ident, $kind:literal, $item:expr) => {
        #[doc = concat!("`", $kind, "`.")]
        pub static $name: Message = Message {
            name: $kind,
            fields: &[LIST_METADATA, repeated(2, "items", Kind::Message($item))],
        };
    };
}

list!(NAMESPACE_LIST, "NamespaceList", &NAMESPACE);
list!(SECRET_LIST, "SecretList", &SECRET);
list!(CONFIG_MAP_LIST, "ConfigMapList", &CONFIG_MAP);
list!(CORE_EVENT_LIST, "EventList", &CORE_EVENT);
list!(EVENT_LIST, "EventList", &EVENT);
list!(LEASE_LIST, "LeaseList", &LEASE);
