//! Label selectors (`a=b,c!=d,e in (f,g),h,!i,n>1`) and field selectors (`metadata.name=x`,
//! `involvedObject.uid=y`), parsed and refused as kube-apiserver parses and refuses them, with
//! the fields each kind can be selected by.

mod fields;
mod label_lexer;
mod labels;

pub use self::fields::FieldSelector;
pub use self::labels::LabelSelector;
