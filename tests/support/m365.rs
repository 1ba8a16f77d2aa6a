//! The Microsoft 365 simulator as the tests and the benchmarks drive it: a large generated
//! directory, and Graph collections read page by page.

#![allow(dead_code)]

use exo_sim_m365::tenants::TenantsFile;
use exo_sim_m365::{Generate, SimOptions};
use serde_json::Value;

/// Simulator options for `tenants` with a large generated directory: 100,000 users and 5,000
/// groups.
pub fn large_directory(tenants: TenantsFile) -> SimOptions {
    SimOptions {
        tenants,
        generate: Some(Generate {
            users: 100_000,
            groups: 5_000,
            seed: 1,
        }),
        ..Default::default()
    }
}

/// GETs `url` with bearer `token` and `headers`, then each `@odata.nextLink` in turn, handing
/// every page to `each` (one page in memory at a time); returns how many pages there were.
pub async fn pages(
    http: &reqwest::Client,
    url: String,
    token: &str,
    headers: &[(&str, &str)],
    mut each: impl FnMut(Value),
) -> usize {
    let mut next = Some(url);
    let mut count = 0;
    while let Some(url) = next {
        let mut request = http.get(&url).bearer_auth(token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        count += 1;
        next = page["@odata.nextLink"].as_str().map(String::from);
        each(page);
    }
    count
}
