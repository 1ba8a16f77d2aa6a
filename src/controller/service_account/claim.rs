//! One tenant, one account: of the accounts of this cluster that name the same tenant (by
//! domain or GUID) with the same application in the same cloud, the oldest manages it; the
//! others change nothing in the tenant, remove nothing on deletion, and report the conflict.
//! Pure: the accounts come from the operator's cache, and each account's application (its
//! override, else its service's) from the services' caches.

use kube::ResourceExt;

use exo_api::exchange_service_account::ExchangeServiceAccount;

/// The account of `accounts` that manages the tenant `me` names, if it is not `me`:
/// `namespace/name`. `my_tenant_id` is the tenant's GUID when a token has told it;
/// `application` tells an account's application (client) id, when known.
pub fn held_by_another<'a>(
    me: &ExchangeServiceAccount,
    my_tenant_id: Option<&str>,
    accounts: impl IntoIterator<Item = &'a ExchangeServiceAccount>,
    application: impl Fn(&ExchangeServiceAccount) -> Option<String>,
) -> Option<String> {
    let mine = application(me)?;
    let holder = accounts
        .into_iter()
        .filter(|other| {
            other.uid() != me.uid()
                && application(other).is_some_and(|a| a.eq_ignore_ascii_case(&mine))
                && same_tenant(me, my_tenant_id, other)
        })
        .filter(|other| age(other) < age(me))
        .min_by_key(|other| age(other))?;
    Some(format!(
        "{}/{}",
        holder.namespace().unwrap_or_default(),
        holder.name_any()
    ))
}

/// Creation time, then namespace and name: the order in which accounts claim a tenant.
fn age(esa: &ExchangeServiceAccount) -> (Option<jiff::Timestamp>, String, String) {
    (
        esa.metadata.creation_timestamp.as_ref().map(|t| t.0),
        esa.namespace().unwrap_or_default(),
        esa.name_any(),
    )
}

/// Whether two accounts name the same tenant in the same cloud.
fn same_tenant(
    me: &ExchangeServiceAccount,
    my_tenant_id: Option<&str>,
    other: &ExchangeServiceAccount,
) -> bool {
    if me.spec.cloud != other.spec.cloud {
        return false;
    }
    let names = |esa: &ExchangeServiceAccount, id: Option<&str>| {
        let known = esa
            .status
            .as_ref()
            .and_then(|s| s.service_principal.as_ref())
            .and_then(|sp| sp.tenant_id.clone());
        [
            Some(esa.spec.tenant.to_lowercase()),
            known.or(id.map(String::from)),
        ]
        .into_iter()
        .flatten()
        .map(|n| n.to_lowercase())
        .collect::<Vec<_>>()
    };
    let mine = names(me, my_tenant_id);
    names(other, None).iter().any(|n| mine.contains(n))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;

    fn account(
        name: &str,
        tenant: &str,
        created: i64,
        tenant_id: Option<&str>,
    ) -> ExchangeServiceAccount {
        let mut esa: ExchangeServiceAccount = serde_json::from_value(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": name, "namespace": "mail", "uid": format!("uid-{name}")},
            "spec": {
                "tenant": tenant, "mode": "Api", "serviceRef": {"name": "mail-security"},
            },
            "status": {"servicePrincipal": {"tenantId": tenant_id}},
        }))
        .unwrap();
        esa.metadata.creation_timestamp = Some(Time(
            jiff::Timestamp::from_second(1_800_000_000 + created).unwrap(),
        ));
        esa
    }

    #[test]
    fn the_oldest_account_of_a_tenant_holds_it() {
        let guid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let first = account("first", "Contoso.onmicrosoft.com", 0, Some(guid));
        let second = account("second", "contoso.onmicrosoft.com", 10, None);
        let by_guid = account("by-guid", guid, 20, None);
        let by_domain = account("by-domain", "contoso.com", 30, None);
        let other = account("other", "fabrikam.onmicrosoft.com", 5, None);
        let all = [&first, &second, &by_guid, &by_domain, &other];
        // The service's application, unless the account overrides it.
        let application = |esa: &ExchangeServiceAccount| {
            Some(esa.spec.application.as_ref().map_or_else(
                || "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c".to_string(),
                |a| a.client_id.clone(),
            ))
        };
        let held = |me: &ExchangeServiceAccount, tid: Option<&str>| {
            held_by_another(me, tid, all.iter().copied(), application)
        };
        assert_eq!(held(&first, Some(guid)), None);
        assert_eq!(held(&other, None), None);
        assert_eq!(held(&second, None).as_deref(), Some("mail/first"));
        assert_eq!(held(&by_guid, None).as_deref(), Some("mail/first"));
        // A domain other than the initial one is recognised once a token names the tenant.
        assert_eq!(held(&by_domain, None), None);
        assert_eq!(held(&by_domain, Some(guid)).as_deref(), Some("mail/first"));
        // Another application may onboard the same tenant.
        let mut other_app = account("other-app", "contoso.onmicrosoft.com", 40, None);
        other_app.spec.application = Some(
            serde_json::from_value(json!({"clientId": "0d1e2f3a-4b5c-4d6e-8f70-112233445566",
                                          "credentials": {"secretName": "own"}}))
            .unwrap(),
        );
        assert_eq!(held(&other_app, None), None);
        // An account whose application is not known yet (its service not seen) claims nothing.
        let unknown = |esa: &ExchangeServiceAccount| {
            (esa.name_any() != "first")
                .then(|| application(esa))
                .flatten()
        };
        assert_eq!(
            held_by_another(&second, None, all.iter().copied(), unknown),
            None
        );
    }
}
