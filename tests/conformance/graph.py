"""Microsoft Graph of `exo-sim m365` judged by Microsoft's own SDK (msgraph-sdk for Python, with
azure-identity): each check calls a route the simulator serves through the SDK's request
builders, as an application would against graph.microsoft.com, and prints one JSON line: the
check, the library, the Microsoft Learn page it follows, and whether it held.

The SDK talks to the simulator as to Graph: a ClientSecretCredential whose authority host is the
simulator, the request adapter's base URL at the simulator's /v1.0, the simulator's host allowed
for tokens, and httpx trusting the simulator's CA. Environment: SIM_URL (https), TENANT,
CLIENT_ID, CLIENT_SECRET, REQUESTS_CA_BUNDLE (the simulator's CA)."""
import asyncio
import json
import os
import ssl
import sys
import time
import traceback
import uuid
from urllib.parse import urlsplit

import httpx
import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph_core import GraphClientFactory

from graph_sdk import (CA, CLIENT_ID, HOST, SECRET, SIM, TENANT, check, config, context, control,
                       graph_client, refused)

LEARN = "https://learn.microsoft.com/graph"
SDK_PAGING = f"{LEARN}/sdks/paging?tabs=python"
USER_LIST = f"{LEARN}/api/user-list"
USER_GET = f"{LEARN}/api/user-get"
USER_DELTA = f"{LEARN}/api/user-delta"
DELTA_USERS = f"{LEARN}/delta-query-users"
DELTA_GROUPS = f"{LEARN}/delta-query-groups"
GROUP_LIST = f"{LEARN}/api/group-list"
GROUP_GET = f"{LEARN}/api/group-get"
GROUP_MEMBERS = f"{LEARN}/api/group-list-members"
GROUP_TRANSITIVE = f"{LEARN}/api/group-list-transitivemembers"
ADVANCED = f"{LEARN}/aad-advanced-queries"
FILTER = f"{LEARN}/filter-query-parameter"
ORDERBY = f"{LEARN}/query-parameters"
PAGING = f"{LEARN}/paging"
ERRORS = f"{LEARN}/errors"
THROTTLING = f"{LEARN}/throttling"
SP_LIST = f"{LEARN}/api/serviceprincipal-list"
SP_GET = f"{LEARN}/api/serviceprincipal-get"
SP_APP_ROLES = f"{LEARN}/api/serviceprincipal-list-approleassignments"
GRANTS = f"{LEARN}/api/oauth2permissiongrant-list"
DOMAINS = f"{LEARN}/api/domain-list"
DOMAIN_GET = f"{LEARN}/api/domain-get"
ORGANIZATION = f"{LEARN}/api/organization-list"
ROLE_DEFINITIONS = f"{LEARN}/api/rbacapplication-list-roledefinitions"
ROLE_DEFINITION = f"{LEARN}/api/unifiedroledefinition-get"
ROLE_ASSIGNMENTS = f"{LEARN}/api/rbacapplication-list-roleassignments"
ROLE_ASSIGN = f"{LEARN}/api/rbacapplication-post-roleassignments"
ROLE_UNASSIGN = f"{LEARN}/api/unifiedroleassignment-delete"
SCHEDULE_REQUESTS = f"{LEARN}/api/rbacapplication-list-roleassignmentschedulerequests"
SCHEDULE_INSTANCES = f"{LEARN}/api/rbacapplication-list-roleassignmentscheduleinstances"

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_ADMIN_ROLE = "29232cdf-9323-42fd-ade2-1d097af3e4de"


client = graph_client()


# Users

async def users_paged():
    query = client.users.UsersRequestBuilderGetQueryParameters(select=["id", "displayName"])
    page = await client.users.get(config(query, headers={"Prefer": "odata.maxpagesize=2"}))
    seen = list(page.value)
    assert page.odata_next_link and len(seen) == 2, (page.odata_next_link, len(seen))
    while page.odata_next_link:
        page = await client.users.with_url(page.odata_next_link).get(
            config(headers={"Prefer": "odata.maxpagesize=2"}))
        seen += page.value
    assert all(u.user_principal_name is None and u.display_name for u in seen), "only $select"
    return {"users": len(seen)}


async def user_by_upn_and_id():
    ada = await client.users.by_user_id("ada@contoso.com").get()
    assert ada.display_name == "Ada Lovelace", ada.display_name
    again = await client.users.by_user_id(ada.id).get()
    assert again.user_principal_name == "ada@contoso.com"
    assert context(ada) == f"{SIM}/v1.0/$metadata#users/$entity", context(ada)
    return {"context": context(ada).rsplit("#", 1)[1]}


async def user_select_context():
    query = client.users.by_user_id("ada@contoso.com").UserItemRequestBuilderGetQueryParameters(
        select=["displayName", "mail"])
    ada = await client.users.by_user_id("ada@contoso.com").get(config(query))
    assert ada.mail and ada.user_principal_name is None, ada
    assert context(ada).endswith("#users(displayName,mail)/$entity"), context(ada)
    return {"context": context(ada).rsplit("#", 1)[1]}


async def users_collection_context():
    page = await client.users.get()
    assert context(page) == f"{SIM}/v1.0/$metadata#users", context(page)
    return {"context": "users"}


async def missing_user():
    e = await refused(lambda: client.users.by_user_id("nobody@contoso.com").get(), 404,
                      "Request_ResourceNotFound")
    return {"message": e.error.message.split(" ")[0]}


async def users_filtered(flt, expect):
    query = client.users.UsersRequestBuilderGetQueryParameters(filter=flt)
    page = await client.users.get(config(query))
    names = sorted(u.display_name for u in page.value)
    assert expect(names), names
    return {"matched": len(names)}


async def users_ordered():
    query = client.users.UsersRequestBuilderGetQueryParameters(orderby=["displayName"], top=10)
    page = await client.users.get(config(query))
    names = [u.display_name for u in page.value]
    assert names == sorted(names, key=str.lower) and len(names) > 2, names
    desc = client.users.UsersRequestBuilderGetQueryParameters(orderby=["displayName desc"])
    page = await client.users.get(config(desc))
    assert [u.display_name for u in page.value] == sorted(names, key=str.lower, reverse=True)
    return {"users": len(names)}


async def orderby_with_filter():
    query = client.users.UsersRequestBuilderGetQueryParameters(
        filter="startswith(displayName,'A')", orderby=["displayName"])
    await refused(lambda: client.users.get(config(query)), 400, "Request_UnsupportedQuery")
    query.count = True
    page = await client.users.get(config(query, eventual=True))
    names = [u.display_name for u in page.value]
    assert names == sorted(names) and all(n.startswith("A") for n in names), names
    assert page.odata_count == len(names), page.odata_count
    return {"matched": len(names)}


async def ne_needs_advanced():
    query = client.users.UsersRequestBuilderGetQueryParameters(filter="displayName ne 'Ada Lovelace'")
    await refused(lambda: client.users.get(config(query)), 400, "Request_UnsupportedQuery")
    query.count = True
    page = await client.users.get(config(query, eventual=True))
    assert all(u.display_name != "Ada Lovelace" for u in page.value) and page.value
    return {"matched": len(page.value)}


async def unsupported_filter_property():
    query = client.users.UsersRequestBuilderGetQueryParameters(filter="jobTitle eq 'x'")
    e = await refused(lambda: client.users.get(config(query)), 400, "Request_UnsupportedQuery")
    assert "'jobTitle'" in e.error.message, e.error.message
    return {"code": e.error.code}


async def users_count_segment():
    n = await client.users.count.get(config(eventual=True))
    page = await client.users.get()
    assert n == len(page.value) and n > 0, (n, len(page.value))
    return {"count": n}


async def count_segment_needs_eventual():
    e = await refused(lambda: client.users.count.get(), 400, "Request_BadRequest")
    assert e.error.message == "$count is not currently supported.", e.error.message
    return {"message": e.error.message}


async def count_true():
    query = client.users.UsersRequestBuilderGetQueryParameters(count=True, top=1)
    page = await client.users.get(config(query, eventual=True))
    assert page.odata_count and page.odata_count > 1 and len(page.value) == 1, page.odata_count
    silent = await client.users.get(config(query))
    assert silent.odata_count is None, "ignored without ConsistencyLevel"
    return {"count": page.odata_count}


async def search_needs_eventual():
    query = client.users.UsersRequestBuilderGetQueryParameters(search='"displayName:Ada"')
    await refused(lambda: client.users.get(config(query)), 400, "Request_UnsupportedQuery")
    page = await client.users.get(config(query, eventual=True))
    assert [u.display_name for u in page.value] == ["Ada Lovelace"], page.value
    return {"matched": 1}


# Delta

async def follow_delta(builder, query=None):
    """One delta round: every page through @odata.nextLink; the objects and the deltaLink."""
    page = await builder.get(config(query, headers={"Prefer": "odata.maxpagesize=2"}))
    items, pages = list(page.value), 1
    while page.odata_next_link:
        assert not page.odata_delta_link
        page = await builder.with_url(page.odata_next_link).get(
            config(headers={"Prefer": "odata.maxpagesize=2"}))
        items += page.value
        pages += 1
    assert page.odata_delta_link, "the last page ends with @odata.deltaLink"
    return items, page.odata_delta_link, pages, page


async def users_delta_round():
    query = client.users.delta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "userPrincipalName"])
    users, link, pages, last = await follow_delta(client.users.delta, query)
    assert pages > 1 and len(users) >= 4, (pages, len(users))
    assert all(u.id and u.display_name and u.mail is None for u in users), "$select and id"
    assert context(last).endswith("#users(displayName,userPrincipalName)"), context(last)
    return users, link, pages


async def users_delta_initial():
    users, _, pages = await users_delta_round()
    return {"users": len(users), "pages": pages}


async def users_delta_changes():
    _, link, _ = await users_delta_round()
    control("POST", f"/tenants/{TENANT}/users", {"upn": "delta-new@contoso.com",
                                                  "displayName": "Delta New"})
    control("DELETE", f"/tenants/{TENANT}/users/alan@contoso.com")
    page = await client.users.delta.with_url(link).get()
    changes = {u.user_principal_name or u.id: u for u in page.value}
    new = changes.get("delta-new@contoso.com")
    assert new and new.display_name == "Delta New", sorted(changes)
    removed = [u for u in page.value if "@removed" in u.additional_data]
    assert len(removed) == 1, [u.additional_data for u in page.value]
    # A deleted user is soft-deleted: restorable, so Graph reports the reason "changed".
    assert removed[0].additional_data["@removed"] == {"reason": "changed"}, removed[0].additional_data
    assert page.odata_delta_link and page.odata_delta_link != link
    return {"changes": len(page.value), "removed": "changed"}


async def users_delta_function_spellings():
    # The SDK calls delta() with parentheses; the fully qualified function name works alike.
    via_sdk = await client.users.delta.get()
    qualified = await client.users.delta.with_url(f"{SIM}/v1.0/users/microsoft.graph.delta()").get()
    assert len(via_sdk.value) == len(qualified.value) > 0
    return {"users": len(via_sdk.value)}


async def groups_delta():
    query = client.groups.delta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "members"])
    groups, link, _, _ = await follow_delta(client.groups.delta, query)
    assert groups and all(g.display_name for g in groups), groups
    with_members = [g for g in groups if g.additional_data.get("members@delta")]
    assert with_members, "members@delta on the first round"
    eng = next(g for g in groups if g.display_name == "Engineering")
    control("POST", f"/tenants/{TENANT}/groups/Engineering/members", {"upn": "grace@contoso.com"})
    control("DELETE", f"/tenants/{TENANT}/groups/Engineering/members/grace@contoso.com")
    control("POST", f"/tenants/{TENANT}/groups/Engineering/members", {"upn": "edsger@contoso.com"})
    page = await client.groups.delta.with_url(link).get()
    changed = next(g for g in page.value if g.id == eng.id)
    refs = changed.additional_data["members@delta"]
    assert all(r["@odata.type"] == "#microsoft.graph.user" for r in refs), refs
    assert any(r.get("@removed") == {"reason": "deleted"} for r in refs), refs
    return {"groups": len(groups), "member changes": len(refs)}


async def delta_token_refused():
    bad = f"{SIM}/v1.0/users/delta()?$deltatoken=not-a-token"
    e = await refused(lambda: client.users.delta.with_url(bad).get(), 400, "syncStateNotFound")
    return {"code": e.error.code}


# Groups and members

async def engineering():
    query = client.groups.GroupsRequestBuilderGetQueryParameters(filter="displayName eq 'Engineering'")
    page = await client.groups.get(config(query))
    assert len(page.value) == 1, page.value
    return page.value[0]


async def groups_startswith():
    query = client.groups.GroupsRequestBuilderGetQueryParameters(
        filter="startswith(displayName,'Eng')", select=["id", "displayName"])
    page = await client.groups.get(config(query))
    assert [g.display_name for g in page.value] == ["Engineering"], page.value
    assert context(page).endswith("#groups(id,displayName)"), context(page)
    return {"matched": 1}


async def group_get():
    eng = await engineering()
    g = await client.groups.by_group_id(eng.id).get()
    assert g.display_name == "Engineering" and context(g).endswith("#groups/$entity"), context(g)
    return {"context": "groups/$entity"}


async def group_members():
    eng = await engineering()
    page = await client.groups.by_group_id(eng.id).members.get()
    assert page.value and all(m.odata_type for m in page.value), page.value
    assert context(page).endswith("#directoryObjects"), context(page)
    return {"members": len(page.value)}


async def members_cast(spelling):
    eng = await engineering()
    members = client.groups.by_group_id(eng.id).members
    if spelling == "graph.user":
        builder = members.graph_user
    else:
        builder = members.graph_user.with_url(f"{SIM}/v1.0/groups/{eng.id}/members/microsoft.graph.user?$count=true")
    query = members.graph_user.GraphUserRequestBuilderGetQueryParameters(count=True)
    page = await builder.get(config(query, eventual=True))
    assert page.value and all(u.user_principal_name for u in page.value), page.value
    assert context(page).endswith("#users"), context(page)
    return {"users": len(page.value)}


async def transitive_members_cast():
    eng = await engineering()
    transitive = client.groups.by_group_id(eng.id).transitive_members
    all_members = await transitive.get()
    cast = transitive.graph_user.with_url(
        f"{SIM}/v1.0/groups/{eng.id}/transitiveMembers/microsoft.graph.user?$count=true")
    users = await cast.get(config(eventual=True))
    kinds = {m.odata_type for m in all_members.value}
    assert len(users.value) == sum(1 for m in all_members.value if m.odata_type == "#microsoft.graph.user")
    via_sdk = await transitive.graph_user.get(config(eventual=True))
    assert len(via_sdk.value) == len(users.value)
    return {"users": len(users.value), "types": sorted(kinds)}


async def members_count_segments():
    eng = await engineering()
    members = client.groups.by_group_id(eng.id).members
    n = await members.count.get(config(eventual=True))
    page = await members.get()
    assert n == len(page.value), (n, len(page.value))
    users = await members.graph_user.count.get(config(eventual=True))
    assert users <= n, (users, n)
    await refused(lambda: members.count.get(), 400, "Request_BadRequest")
    return {"members": n, "users": users}


async def missing_group():
    e = await refused(lambda: client.groups.by_group_id(str(uuid.uuid4())).get(), 404,
                      "Request_ResourceNotFound")
    return {"code": e.error.code}


# Errors and faults

async def error_shape():
    sent = str(uuid.uuid4())
    e = await refused(lambda: client.users.by_user_id("nobody@contoso.com").get(
        config(headers={"client-request-id": sent})), 404, "Request_ResourceNotFound")
    inner = e.error.inner_error
    assert inner.client_request_id == sent, (inner.client_request_id, sent)
    headers = {k.lower(): v for k, v in e.response_headers.items()}
    assert headers.get("request-id") == inner.request_id, (headers, inner.request_id)
    assert inner.date.year >= 2024, inner.date  # the SDK parses Graph's "2021-05-18T19:03:10"
    return {"client-request-id": "echoed"}


NO_RETRY = RetryHandlerOption(delay=0, max_retries=0, should_retry=False)


def fault(path, status, retry_after=None, count=1):
    body = {"path": path, "status": status, "count": count}
    if retry_after is not None:
        body["retryAfter"] = retry_after
    control("POST", "/faults", body)


async def throttled_shape():
    fault("GET /v1.0/domains$", 429, retry_after=3)
    sent = str(uuid.uuid4())
    e = await refused(lambda: client.domains.get(
        config(headers={"client-request-id": sent}, options=[NO_RETRY])), 429, "TooManyRequests")
    headers = {k.lower(): v for k, v in e.response_headers.items()}
    assert headers.get("retry-after") == "3", headers
    assert e.error.inner_error.client_request_id == sent
    return {"retry-after": 3}


async def unavailable_shape():
    fault("GET /v1.0/organization", 503, retry_after=2)
    e = await refused(lambda: client.organization.get(config(options=[NO_RETRY])), 503,
                      "serviceNotAvailable")
    headers = {k.lower(): v for k, v in e.response_headers.items()}
    assert headers.get("retry-after") == "2", headers
    return {"code": e.error.code}


async def retry_after_honoured():
    fault("GET /v1.0/domains$", 429, retry_after=1)
    start = time.monotonic()
    page = await client.domains.get()
    waited = time.monotonic() - start
    assert page.value and waited >= 1, waited
    return {"retried after (s)": round(waited)}


async def unauthenticated():
    anonymous = GraphServiceClient(request_adapter=GraphRequestAdapter(
        AzureIdentityAuthenticationProvider(
            ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=HOST,
                                   disable_instance_discovery=True),
            scopes=["https://graph.microsoft.com/.default"], allowed_hosts=["graph.microsoft.com"]),
        client=GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=CA)))))
    anonymous.request_adapter.base_url = f"{SIM}/v1.0"
    # The simulator's host is not allowed: the SDK sends no token, Graph answers 401.
    e = await refused(lambda: anonymous.users.get(), 401, "InvalidAuthenticationToken")
    return {"code": e.error.code}


async def another_audience():
    # A valid token of the tenant, issued for Exchange Online: Graph refuses it.
    exchange = graph_client(scope="https://outlook.office365.com/.default")
    e = await refused(lambda: exchange.users.get(), 401, "InvalidAuthenticationToken")
    return {"code": e.error.code}


# Directory: service principals, grants, domains, organization

async def service_principal_by_app_id():
    sp = await client.service_principals_with_app_id(GRAPH_APP_ID).get()
    assert sp.app_id == GRAPH_APP_ID and sp.display_name == "Microsoft Graph", sp
    assert context(sp).endswith("#servicePrincipals/$entity"), context(sp)
    by_id = await client.service_principals.by_service_principal_id(sp.id).get()
    assert by_id.app_id == GRAPH_APP_ID
    return {"displayName": sp.display_name}


async def service_principals_filtered():
    query = client.service_principals.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"appId eq '{CLIENT_ID}'", select=["id", "appId", "displayName"])
    page = await client.service_principals.get(config(query))
    assert len(page.value) == 1 and page.value[0].app_id == CLIENT_ID, page.value
    return {"matched": 1}


async def app_role_assignments():
    query = client.service_principals.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"appId eq '{CLIENT_ID}'")
    sp = (await client.service_principals.get(config(query))).value[0]
    page = await client.service_principals.by_service_principal_id(sp.id).app_role_assignments.get()
    assert page.value and all(a.app_role_id and a.resource_id for a in page.value), page.value
    assert context(page).endswith(f"#servicePrincipals('{sp.id}')/appRoleAssignments"), context(page)
    return {"assignments": len(page.value)}


async def permission_grants():
    # Listing grants takes Directory.Read.All (or DelegatedPermissionGrant.Read.All), which the
    # app lacks until the administrator consents to it too; a new client gets a new token.
    await refused(lambda: client.oauth2_permission_grants.get(), 403, "Authorization_RequestDenied")
    control("POST", f"/tenants/{TENANT}/consent", {"clientId": CLIENT_ID, "permissions": [
        "User.Read.All", "Group.Read.All", "Application.Read.All", "Directory.Read.All"]})
    page = await graph_client().oauth2_permission_grants.get()
    assert page.value == [] and context(page).endswith("#oauth2PermissionGrants"), context(page)
    return {"grants": 0}


async def domains():
    page = await client.domains.get()
    names = [d.id for d in page.value]
    assert "contoso.com" in names and any(d.is_default for d in page.value), names
    one = await client.domains.by_domain_id("contoso.com").get()
    assert one.is_verified and context(one).endswith("#domains/$entity"), context(one)
    return {"domains": len(names)}


async def organization():
    page = await client.organization.get()
    org = page.value[0]
    assert org.id and org.verified_domains, org
    assert context(page).endswith("#organization"), context(page)
    return {"verifiedDomains": len(org.verified_domains)}


# Directory roles

async def role_definitions():
    page = await client.role_management.directory.role_definitions.get()
    assert any(r.id == EXCHANGE_ADMIN_ROLE for r in page.value), [r.display_name for r in page.value]
    one = await client.role_management.directory.role_definitions.by_unified_role_definition_id(
        EXCHANGE_ADMIN_ROLE).get()
    assert one.display_name == "Exchange Administrator", one.display_name
    assert context(one).endswith("#roleManagement/directory/roleDefinitions/$entity"), context(one)
    return {"roles": len(page.value)}


async def role_assignments_round_trip():
    sp = await client.service_principals_with_app_id(CLIENT_ID).get()
    directory = client.role_management.directory
    created = await directory.role_assignments.post(UnifiedRoleAssignment(
        principal_id=sp.id, role_definition_id=EXCHANGE_ADMIN_ROLE, directory_scope_id="/"))
    assert created.id and created.role_definition_id == EXCHANGE_ADMIN_ROLE, created
    query = directory.role_assignments.RoleAssignmentsRequestBuilderGetQueryParameters(
        filter=f"principalId eq '{sp.id}'")
    page = await directory.role_assignments.get(config(query))
    assert any(a.id == created.id for a in page.value), page.value
    await directory.role_assignments.by_unified_role_assignment_id(created.id).delete()
    page = await directory.role_assignments.get(config(query))
    assert all(a.id != created.id for a in page.value)
    return {"created and deleted": 1}


async def role_schedules():
    directory = client.role_management.directory
    requests_page = await directory.role_assignment_schedule_requests.get()
    instances = await directory.role_assignment_schedule_instances.get()
    assert requests_page.value is not None and instances.value is not None
    assert context(instances).endswith("#roleManagement/directory/roleAssignmentScheduleInstances")
    return {"requests": len(requests_page.value), "instances": len(instances.value)}


async def main():
    control("POST", f"/tenants/{TENANT}/consent", {"clientId": CLIENT_ID})
    checks = [
        ("users: pages through @odata.nextLink with $select (GraphServiceClient, ClientSecretCredential)", SDK_PAGING, users_paged),
        ("users: by UPN and by id, @odata.context #users/$entity", USER_GET, user_by_upn_and_id),
        ("users: $select on one user, in the @odata.context", USER_GET, user_select_context),
        ("users: collection @odata.context #users", USER_LIST, users_collection_context),
        ("users: a missing user is 404 Request_ResourceNotFound", USER_GET, missing_user),
        ("users: $filter startswith(displayName,'A')", FILTER,
         lambda: users_filtered("startswith(displayName,'A')",
                                lambda n: n and all(x.startswith("A") for x in n))),
        ("users: $filter accountEnabled eq true", FILTER,
         lambda: users_filtered("accountEnabled eq true", lambda n: len(n) >= 4)),
        ("users: $filter userPrincipalName eq (any case)", FILTER,
         lambda: users_filtered("userPrincipalName eq 'GRACE@contoso.com'",
                                lambda n: n == ["Grace Hopper"])),
        ("users: $orderby displayName (asc, desc) by default", ORDERBY, users_ordered),
        ("users: $orderby with $filter needs the advanced query parameters", ADVANCED,
         orderby_with_filter),
        ("users: ne needs the advanced query parameters", ADVANCED, ne_needs_advanced),
        ("users: $filter on an unsupported property is refused", ADVANCED,
         unsupported_filter_property),
        ("users: /users/$count with ConsistencyLevel eventual (text/plain)", ADVANCED,
         users_count_segment),
        ("users: /users/$count without ConsistencyLevel is refused", ADVANCED,
         count_segment_needs_eventual),
        ("users: $count=true gives @odata.count, ignored without ConsistencyLevel", ADVANCED,
         count_true),
        ("users: $search needs ConsistencyLevel eventual", ADVANCED, search_needs_eventual),
        ("users/delta(): a first round paged to @odata.deltaLink, $select kept", USER_DELTA,
         users_delta_initial),
        ("users/delta(): additions, and a deleted user @removed reason changed", DELTA_USERS,
         users_delta_changes),
        ("users/delta() and users/microsoft.graph.delta()", USER_DELTA,
         users_delta_function_spellings),
        ("users/delta(): an unknown delta token is refused", DELTA_USERS, delta_token_refused),
        ("groups/delta(): members@delta, removed members reason deleted", DELTA_GROUPS, groups_delta),
        ("groups: $filter startswith, $select in @odata.context", GROUP_LIST, groups_startswith),
        ("groups: one group, @odata.context #groups/$entity", GROUP_GET, group_get),
        ("groups: members as directoryObjects", GROUP_MEMBERS, group_members),
        ("groups: members/graph.user cast (SDK spelling)", GROUP_MEMBERS,
         lambda: members_cast("graph.user")),
        ("groups: members/microsoft.graph.user cast", GROUP_MEMBERS,
         lambda: members_cast("microsoft.graph.user")),
        ("groups: transitiveMembers cast to users, both spellings", GROUP_TRANSITIVE,
         transitive_members_cast),
        ("groups: members/$count and members/graph.user/$count", ADVANCED, members_count_segments),
        ("groups: a missing group is 404", GROUP_GET, missing_group),
        ("errors: Graph's shape, client-request-id echoed, request-id header", ERRORS, error_shape),
        ("errors: 429 TooManyRequests with Retry-After", THROTTLING, throttled_shape),
        ("errors: 503 serviceNotAvailable with Retry-After", ERRORS, unavailable_shape),
        ("errors: the SDK's retry handler honours Retry-After", THROTTLING, retry_after_honoured),
        ("errors: no token is 401 InvalidAuthenticationToken", ERRORS, unauthenticated),
        ("errors: a token for another audience is 401 InvalidAuthenticationToken", ERRORS,
         another_audience),
        ("servicePrincipals(appId='...') and by id", SP_GET, service_principal_by_app_id),
        ("servicePrincipals: $filter appId eq", SP_LIST, service_principals_filtered),
        ("servicePrincipals: appRoleAssignments", SP_APP_ROLES, app_role_assignments),
        ("domains: list and one", DOMAIN_GET, domains),
        ("organization with verified domains", ORGANIZATION, organization),
        ("roleManagement: role definitions, list and one", ROLE_DEFINITION, role_definitions),
        ("roleManagement: role assignment created, listed, deleted", ROLE_ASSIGN,
         role_assignments_round_trip),
        ("roleManagement: assignment schedule requests and instances", SCHEDULE_INSTANCES,
         role_schedules),
        ("oauth2PermissionGrants: 403 without the permission, then listed", GRANTS,
         permission_grants),
    ]
    for name, page, fn in checks:
        await check(name, page, fn)


asyncio.run(main())
