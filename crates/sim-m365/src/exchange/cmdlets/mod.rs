//! The cmdlet table: every cmdlet the simulator knows, its parameter set and the function that
//! runs it. Most are a verb on an object type; a few stand alone.

mod members;
mod read;
mod write;

use axum::response::Response;

use super::Invocation;
use super::parameters::{self as p, Parameters};

/// Gives a cmdlet's parameter set.
type ParameterSet = fn() -> Parameters;

/// A cmdlet: its parameter set and what it does.
#[derive(Clone, Copy)]
pub(super) struct Cmdlet {
    /// The parameter set.
    pub parameters: ParameterSet,
    /// Runs the cmdlet.
    pub run: fn(&mut Invocation) -> Response,
}

const fn cmdlet(parameters: ParameterSet, run: fn(&mut Invocation) -> Response) -> Cmdlet {
    Cmdlet { parameters, run }
}

/// The object types with all four verbs (`Get`, `New`, `Set`, `Remove`), and the parameter
/// sets of their `New-` and `Set-` cmdlets.
const OBJECT_TYPES: &[(&str, ParameterSet, ParameterSet)] = &[
    ("InboundConnector", p::new_inbound, p::set_inbound),
    ("OutboundConnector", p::new_outbound, p::set_outbound),
    ("TransportRule", p::new_rule, p::set_rule),
    ("DistributionGroup", p::new_group, p::set_group),
];

/// The other cmdlets: the connection filter policy (one per tenant), turning transport rules
/// on and off, and group members.
#[rustfmt::skip]
const OTHER_CMDLETS: &[(&str, Cmdlet)] = &[
    ("Get-HostedConnectionFilterPolicy", cmdlet(p::read, read::objects)),
    ("Set-HostedConnectionFilterPolicy", cmdlet(p::set_connection_filter, write::update)),
    ("Enable-TransportRule", cmdlet(p::toggle_rule, write::enable)),
    ("Disable-TransportRule", cmdlet(p::toggle_rule, write::disable)),
    ("Get-DistributionGroupMember", cmdlet(p::read_members, read::members)),
    ("Add-DistributionGroupMember", cmdlet(p::change_member, members::add)),
    ("Remove-DistributionGroupMember", cmdlet(p::change_member, members::remove)),
];

/// The cmdlet named `name` (exactly, as `Verb-Noun`).
pub(super) fn find(name: &str) -> Option<Cmdlet> {
    if let Some((_, cmdlet)) = OTHER_CMDLETS.iter().find(|(n, _)| *n == name) {
        return Some(*cmdlet);
    }
    let (verb, noun) = name.split_once('-')?;
    let &(_, new, set) = OBJECT_TYPES.iter().find(|(t, _, _)| *t == noun)?;
    match verb {
        "Get" => Some(cmdlet(p::read, read::objects)),
        "New" => Some(cmdlet(new, write::create)),
        "Set" => Some(cmdlet(set, write::update)),
        "Remove" if noun == "DistributionGroup" => Some(cmdlet(p::remove_group, write::remove)),
        "Remove" => Some(cmdlet(p::remove, write::remove)),
        _ => None,
    }
}
