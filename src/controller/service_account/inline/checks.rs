//! Verification of the security settings around inline protection. Pure: it reads what the
//! tenant returned and names each failed check.

use serde_json::Value;

use super::desired::is_marked;

/// What the checks look at.
pub struct Tenant<'a> {
    /// The service's IP ranges.
    pub service_ips: &'a [String],
    /// The inbound connector from the service, if it exists.
    pub return_connector: Option<&'a Value>,
    /// The connection-filter allow list.
    pub allow_list: &'a [String],
    /// Every transport rule of the tenant.
    pub rules: &'a [Value],
    /// Name of the rule that routes incoming mail.
    pub inbound_rule: &'a str,
    /// Domains of the protected users (Selected) or of the tenant's mail (All).
    pub protected_domains: &'a [String],
    /// The tenant's verified mail domains.
    pub mail_domains: &'a [String],
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn enabled(rule: &Value) -> bool {
    match (rule.get("Enabled"), rule.get("State")) {
        (Some(Value::Bool(b)), _) => *b,
        (_, Some(Value::String(s))) => s.eq_ignore_ascii_case("enabled"),
        _ => true,
    }
}

/// Every failed check, as `Check: what is wrong`.
pub fn failed(t: &Tenant) -> Vec<String> {
    let mut out = Vec::new();
    let ips: Vec<String> = t.service_ips.iter().map(|s| s.to_lowercase()).collect();
    match t.return_connector {
        None => out.push(
            "EnhancedFiltering: the inbound connector from the service is missing".to_string(),
        ),
        Some(c) => {
            let skip = strings(c.get("EFSkipIPs"));
            let last = c.get("EFSkipLastIP").and_then(Value::as_bool) == Some(true);
            let missing: Vec<&String> = ips.iter().filter(|ip| !skip.contains(ip)).collect();
            if !last && !missing.is_empty() {
                out.push(format!(
                    "EnhancedFiltering: the inbound connector does not skip {}",
                    join(&missing)
                ));
            }
        }
    }
    let allow: Vec<String> = t.allow_list.iter().map(|s| s.to_lowercase()).collect();
    let missing: Vec<&String> = ips.iter().filter(|ip| !allow.contains(ip)).collect();
    if !missing.is_empty() {
        out.push(format!(
            "AllowList: the connection filter policy does not allow {}",
            join(&missing)
        ));
    }
    let priority = |r: &Value| r.get("Priority").and_then(Value::as_i64);
    let ours = t
        .rules
        .iter()
        .find(|r| r.get("Name").and_then(Value::as_str) == Some(t.inbound_rule))
        .and_then(priority);
    if let Some(ours) = ours {
        let bypass: Vec<String> = t
            .rules
            .iter()
            .filter(|r| {
                let comment = r.get("Comments").and_then(Value::as_str).unwrap_or("");
                !is_marked(comment)
                    && enabled(r)
                    && r.get("StopRuleProcessing").and_then(Value::as_bool) == Some(true)
                    && priority(r).is_some_and(|p| p < ours)
            })
            .filter_map(|r| r.get("Name").and_then(Value::as_str).map(String::from))
            .collect();
        if !bypass.is_empty() {
            out.push(format!(
                "NoBypassRule: enabled rules with a higher priority stop rule processing before mail is routed: {}",
                bypass.join(", ")
            ));
        }
    }
    let verified: Vec<String> = t.mail_domains.iter().map(|d| d.to_lowercase()).collect();
    let mut unverified: Vec<String> = t
        .protected_domains
        .iter()
        .map(|d| d.to_lowercase())
        .filter(|d| !verified.contains(d))
        .collect();
    unverified.sort();
    unverified.dedup();
    if verified.is_empty() {
        out.push("DomainsVerified: the tenant has no domain verified for e-mail".to_string());
    } else if !unverified.is_empty() {
        out.push(format!(
            "DomainsVerified: not verified for e-mail: {}",
            unverified.join(", ")
        ));
    }
    out
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_check_fails_on_its_own() {
        let ips = vec!["203.0.113.0/24".to_string()];
        let connector = json!({"EFSkipIPs": ["203.0.113.0/24"], "EFSkipLastIP": false});
        let rules = vec![
            json!({"Name": "exo Route Inbound Mail to Service", "Priority": 1, "StopRuleProcessing": true, "Comments": "Managed by exo-operator for default/a; x"}),
            json!({"Name": "Customer rule", "Priority": 2, "StopRuleProcessing": true, "State": "Enabled"}),
        ];
        let allow = vec!["203.0.113.0/24".to_string(), "192.0.2.1".to_string()];
        let domains = vec!["contoso.com".to_string()];
        let good = Tenant {
            service_ips: &ips,
            return_connector: Some(&connector),
            allow_list: &allow,
            rules: &rules,
            inbound_rule: "exo Route Inbound Mail to Service",
            protected_domains: &domains,
            mail_domains: &domains,
        };
        assert!(failed(&good).is_empty(), "{:?}", failed(&good));

        let no_ef = json!({"EFSkipIPs": []});
        let f = failed(&Tenant {
            return_connector: Some(&no_ef),
            ..good_clone(&good)
        });
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("EnhancedFiltering:") && f[0].contains("203.0.113.0/24"));

        let f = failed(&Tenant {
            allow_list: &[],
            ..good_clone(&good)
        });
        assert!(f[0].starts_with("AllowList:"), "{f:?}");

        let bypass = vec![
            rules[0].clone(),
            json!({"Name": "Customer rule", "Priority": 0, "StopRuleProcessing": true, "State": "Enabled"}),
            json!({"Name": "Disabled rule", "Priority": 0, "StopRuleProcessing": true, "State": "Disabled"}),
        ];
        let f = failed(&Tenant {
            rules: &bypass,
            ..good_clone(&good)
        });
        assert_eq!(f.len(), 1);
        assert!(
            f[0].starts_with("NoBypassRule:") && f[0].ends_with("Customer rule"),
            "{f:?}"
        );

        let other = vec!["fabrikam.com".to_string()];
        let f = failed(&Tenant {
            protected_domains: &other,
            ..good_clone(&good)
        });
        assert_eq!(
            f,
            ["DomainsVerified: not verified for e-mail: fabrikam.com"]
        );
    }

    fn good_clone<'a>(t: &Tenant<'a>) -> Tenant<'a> {
        Tenant {
            service_ips: t.service_ips,
            return_connector: t.return_connector,
            allow_list: t.allow_list,
            rules: t.rules,
            inbound_rule: t.inbound_rule,
            protected_domains: t.protected_domains,
            mail_domains: t.mail_domains,
        }
    }
}
