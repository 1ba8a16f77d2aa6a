//! Messages of `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto` the emulator reads
//! and writes: object and list metadata, owner references, managed fields, `Status` and
//! `DeleteOptions`.

use super::fields::{Kind, Message, map, pointer, repeated, value};

/// `ObjectMeta`.
pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        value(1, "name", Kind::String),
        value(2, "generateName", Kind::String),
        value(3, "namespace", Kind::String),
        value(4, "selfLink", Kind::String),
        value(5, "uid", Kind::String),
        value(6, "resourceVersion", Kind::String),
        value(7, "generation", Kind::Int64),
        value(8, "creationTimestamp", Kind::Time),
        pointer(9, "deletionTimestamp", Kind::Time),
        pointer(10, "deletionGracePeriodSeconds", Kind::Int64),
        map(11, "labels", Kind::String),
        map(12, "annotations", Kind::String),
        repeated(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        repeated(14, "finalizers", Kind::String),
        repeated(17, "managedFields", Kind::Message(&MANAGED_FIELDS_ENTRY)),
    ],
};

/// `OwnerReference`.
pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        value(1, "kind", Kind::String),
        value(3, "name", Kind::String),
        value(4, "uid", Kind::String),
        value(5, "apiVersion", Kind::String),
        pointer(6, "controller", Kind::Bool),
        pointer(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

/// `ManagedFieldsEntry` (its `fieldsV1` is the JSON of the field set).
pub static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        value(1, "manager", Kind::String),
        value(2, "operation", Kind::String),
        value(3, "apiVersion", Kind::String),
        pointer(4, "time", Kind::Time),
        value(6, "fieldsType", Kind::String),
        pointer(7, "fieldsV1", Kind::EmbeddedJson),
        value(8, "subresource", Kind::String),
    ],
};

/// `ListMeta`.
pub static LIST_META: Message = Message {
    name: "ListMeta",
    fields: &[
        value(1, "selfLink", Kind::String),
        value(2, "resourceVersion", Kind::String),
        value(3, "continue", Kind::String),
        pointer(4, "remainingItemCount", Kind::Int64),
    ],
};

/// `Status`, the body of error answers.
pub static STATUS: Message = Message {
    name: "Status",
    fields: &[
        value(1, "metadata", Kind::Message(&LIST_META)),
        value(2, "status", Kind::String),
        value(3, "message", Kind::String),
        value(4, "reason", Kind::String),
        pointer(5, "details", Kind::Message(&STATUS_DETAILS)),
        value(6, "code", Kind::Int32),
    ],
};

/// `StatusDetails`.
pub static STATUS_DETAILS: Message = Message {
    name: "StatusDetails",
    fields: &[
        value(1, "name", Kind::String),
        value(2, "group", Kind::String),
        value(3, "kind", Kind::String),
        repeated(4, "causes", Kind::Message(&STATUS_CAUSE)),
        value(5, "retryAfterSeconds", Kind::Int32),
        value(6, "uid", Kind::String),
    ],
};

/// `StatusCause`.
pub static STATUS_CAUSE: Message = Message {
    name: "StatusCause",
    fields: &[
        value(1, "reason", Kind::String),
        value(2, "message", Kind::String),
        value(3, "field", Kind::String),
    ],
};

/// `DeleteOptions`.
pub static DELETE_OPTIONS: Message = Message {
    name: "DeleteOptions",
    fields: &[
        pointer(1, "gracePeriodSeconds", Kind::Int64),
        pointer(2, "preconditions", Kind::Message(&PRECONDITIONS)),
        pointer(3, "orphanDependents", Kind::Bool),
        pointer(4, "propagationPolicy", Kind::String),
        repeated(5, "dryRun", Kind::String),
        pointer(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Kind::Bool,
        ),
    ],
};

/// `Preconditions`.
pub static PRECONDITIONS: Message = Message {
    name: "Preconditions",
    fields: &[
        pointer(1, "uid", Kind::String),
        pointer(2, "resourceVersion", Kind::String),
    ],
};
