//! Field sets as server-side apply and `managedFields` see them: paths of `fieldsV1` elements
//! (`f:name`, list members `v:"x"` and `k:{"name":"a"}`), the list type of every list
//! (atomic, set or map, from the CRD schema and the metadata rules of ObjectMeta), the set of
//! fields an object sets, and the merge of an applied configuration.

mod changes;
mod list_type;
mod merge;
mod path;

pub use changes::changed_fields;
pub use list_type::{ListType, Lists};
pub use merge::merge_applied;
pub use path::{
    FieldPath, display, duplicate, field_set, fields_v1, from_fields_v1, remove_field, value_at,
};

#[cfg(test)]
mod tests;
