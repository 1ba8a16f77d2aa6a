//! `Add-DistributionGroupMember` and `Remove-DistributionGroupMember`: members are the UPNs of
//! users of the tenant.

use axum::response::Response;
use serde_json::{Value, json};

use super::super::Invocation;
use super::super::objects::not_found;
use crate::errors;

/// `Add-DistributionGroupMember`: 400 if the user is a member already.
pub(super) fn add(inv: &mut Invocation) -> Response {
    change(inv, true)
}

/// `Remove-DistributionGroupMember`: 400 if the user is not a member.
pub(super) fn remove(inv: &mut Invocation) -> Response {
    change(inv, false)
}

fn change(inv: &mut Invocation, add: bool) -> Response {
    let key = match inv.find_identity() {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let member = inv.args["Member"].as_str().unwrap_or("").to_string();
    let Some(user) = inv.snapshot.find_user(&member) else {
        return not_found(&member, &inv.snapshot);
    };
    let members = inv
        .objects
        .get_mut(&key)
        .and_then(|o| o["Members"].as_array_mut())
        .expect("groups have members");
    let is_user = |m: &Value| {
        m.as_str()
            .is_some_and(|x| x.eq_ignore_ascii_case(&user.upn))
    };
    let present = members.iter().any(is_user);
    match (add, present) {
        (true, true) => {
            return errors::exchange(
                400,
                "BadRequest",
                "ExB3C4D5",
                "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
                &format!(
                    "The recipient \"{}\" is already a member of the group \"{key}\".",
                    user.upn
                ),
            );
        }
        (false, false) => {
            return errors::exchange(
                400,
                "BadRequest",
                "ExC4D5E6",
                "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
                &format!(
                    "The recipient \"{}\" isn't a member of the group \"{key}\".",
                    user.upn
                ),
            );
        }
        (true, false) => members.push(json!(user.upn)),
        (false, true) => members.retain(|m| !is_user(m)),
    }
    inv.done()
}
