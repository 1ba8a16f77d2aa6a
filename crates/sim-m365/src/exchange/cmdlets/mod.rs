//! The cmdlet table: every cmdlet the simulator knows, its parameter set and the function that
//! runs it.

mod members;
mod read;
mod write;

use axum::response::Response;

use super::Invocation;
use super::parameters::{self as p, Parameters};

/// A cmdlet: its name, its parameter set and what it does.
pub(super) struct Cmdlet {
    name: &'static str,
    /// The parameter set.
    pub parameters: fn() -> Parameters,
    /// Runs the cmdlet.
    pub run: fn(&mut Invocation) -> Response,
}

const fn cmdlet(
    name: &'static str,
    parameters: fn() -> Parameters,
    run: fn(&mut Invocation) -> Response,
) -> Cmdlet {
    Cmdlet {
        name,
        parameters,
        run,
    }
}

/// Every cmdlet.
const CMDLETS: &[Cmdlet] = &[
    cmdlet("Get-InboundConnector", p::read, read::objects),
    cmdlet("New-InboundConnector", p::new_inbound, write::create),
    cmdlet("Set-InboundConnector", p::set_inbound, write::update),
    cmdlet("Remove-InboundConnector", p::remove, write::remove),
    cmdlet("Get-OutboundConnector", p::read, read::objects),
    cmdlet("New-OutboundConnector", p::new_outbound, write::create),
    cmdlet("Set-OutboundConnector", p::set_outbound, write::update),
    cmdlet("Remove-OutboundConnector", p::remove, write::remove),
    cmdlet("Get-TransportRule", p::read, read::objects),
    cmdlet("New-TransportRule", p::new_rule, write::create),
    cmdlet("Set-TransportRule", p::set_rule, write::update),
    cmdlet("Remove-TransportRule", p::remove, write::remove),
    cmdlet("Get-HostedConnectionFilterPolicy", p::read, read::objects),
    cmdlet(
        "Set-HostedConnectionFilterPolicy",
        p::set_connection_filter,
        write::update,
    ),
    cmdlet("Get-DistributionGroup", p::read, read::objects),
    cmdlet("New-DistributionGroup", p::new_group, write::create),
    cmdlet("Set-DistributionGroup", p::set_group, write::update),
    cmdlet("Remove-DistributionGroup", p::remove, write::remove),
    cmdlet(
        "Get-DistributionGroupMember",
        p::read_members,
        read::members,
    ),
    cmdlet(
        "Add-DistributionGroupMember",
        p::change_member,
        members::add,
    ),
    cmdlet(
        "Remove-DistributionGroupMember",
        p::change_member,
        members::remove,
    ),
];

/// The cmdlet named `name` (exactly).
pub(super) fn find(name: &str) -> Option<&'static Cmdlet> {
    CMDLETS.iter().find(|c| c.name == name)
}
