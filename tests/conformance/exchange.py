"""The Exchange Online admin API and Privileged Identity Management requests of `exo-sim m365`,
judged against Microsoft Learn. No Microsoft Python library speaks the admin API (the
ExchangeOnlineManagement PowerShell module does), so MSAL for Python acquires the app-only token
with a certificate, as "App-only authentication for unattended scripts in Exchange Online
PowerShell" requires, and `requests` posts each cmdlet to InvokeCommand as the module (and the
operator's client) sends it. Graph's PIM requests go through `requests` with an MSAL token.
Each check prints one JSON line: the check, the library, the Learn page it follows, and
whether it held. Environment: as identity.py."""
import json
import os
import sys
import traceback

import msal
import requests

SIM = os.environ["SIM_URL"].rstrip("/")
TENANT = os.environ["TENANT"]
CLIENT_ID = os.environ["CLIENT_ID"]
CERT_PEM = open(os.environ["CERT_PEM"]).read()
KEY_PEM = open(os.environ["KEY_PEM"]).read()
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
INVOKE = f"{SIM}/adminapi/beta/{TENANT}/InvokeCommand"
GRAPH = f"{SIM}/v1.0"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
ANCHOR = f"UPN:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT}"

EXO = "msal + Exchange admin API"
MSGRAPH = "msal + Graph"
APP_ONLY = "https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2"
PIM_CREATE = "https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignmentschedulerequests"
PIM_ERRORS = "https://learn.microsoft.com/rest/api/authorization/includes/privileged-role-common-errors"
PIM_EXPIRY = "https://learn.microsoft.com/graph/api/resources/unifiedrolemanagementpolicyexpirationrule"
ASSIGN = "https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments"


def cmdlet_page(cmdlet):
    return f"https://learn.microsoft.com/powershell/module/exchange/{cmdlet.lower()}"


def check(name, library, page, fn):
    try:
        detail = fn()
        ok = True
    except Exception as e:  # a failed check names what went wrong
        ok, detail = False, f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps({"check": name, "library": library, "page": page, "ok": ok, "detail": detail}), flush=True)


def control(method, path, body):
    r = requests.request(method, f"{SIM}/_sim/tenants/{TENANT}/{path}", json=body, timeout=10)
    r.raise_for_status()


def token(scope):
    """A fresh app-only token: MSAL with the certificate, no cache (roles change between checks)."""
    app = msal.ConfidentialClientApplication(
        CLIENT_ID, authority=f"{SIM}/{TENANT}", instance_discovery=False, token_cache=msal.TokenCache(),
        client_credential={"private_key": KEY_PEM, "public_certificate": CERT_PEM})
    result = app.acquire_token_for_client(scopes=[scope])
    if "access_token" not in result:
        raise AssertionError(f"{result.get('error')}: {result.get('error_description')}")
    return result["access_token"]


def invoke(cmdlet, parameters=None, bearer=None, url=INVOKE, page_size=1000):
    """One InvokeCommand request, with the headers the module sends."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", "X-CmdletName": cmdlet,
               "X-AnchorMailbox": ANCHOR, "X-ResponseFormat": "json", "Prefer": f"odata.maxpagesize={page_size}"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
    return requests.post(url, json=body, headers=headers, timeout=10)


class Exchange:
    """Cmdlets run with one Exchange token."""

    def __init__(self):
        self.bearer = token(EXCHANGE_SCOPE)

    def ok(self, cmdlet, parameters=None):
        r = invoke(cmdlet, parameters, self.bearer)
        assert r.status_code == 200, (cmdlet, r.status_code, r.text[:300])
        return r.json()["value"]

    def refused(self, cmdlet, parameters, status, exception):
        """The cmdlet fails with `status` and Exchange's error naming the .NET `exception`."""
        r = invoke(cmdlet, parameters, self.bearer)
        assert r.status_code == status, (cmdlet, r.status_code, r.text[:300])
        inner = r.json()["error"]["innererror"]["internalexception"]
        assert exception in inner["type"], inner
        return inner["message"][:120]

    def all_pages(self, cmdlet, page_size):
        """Every object of a Get- cmdlet, re-POSTing the same body to each @odata.nextLink."""
        url, out, pages = INVOKE, [], 0
        while url:
            r = invoke(cmdlet, {}, self.bearer, url=url, page_size=page_size)
            assert r.status_code == 200, r.text[:300]
            page = r.json()
            out += page["value"]
            pages += 1
            url = page.get("@odata.nextLink")
        return out, pages


def graph_post(path, body, bearer):
    return requests.post(f"{GRAPH}{path}", json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def graph_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == code, error
    return error["message"]


# The administrator consents; the app starts without a directory role.
control("POST", "consent", {"clientId": CLIENT_ID})


def no_token():
    r = invoke("Get-InboundConnector")
    assert r.status_code == 401, r.status_code
    return "401"


def graph_token_refused():
    r = invoke("Get-InboundConnector", bearer=token(GRAPH_SCOPE))
    assert r.status_code == 401, r.status_code
    return "401 for another audience"


def without_role():
    r = invoke("Get-InboundConnector", bearer=token(EXCHANGE_SCOPE))
    assert r.status_code == 403, r.status_code
    return "403 without the Exchange Administrator role"


check("no token: 401", EXO, APP_ONLY, no_token)
check("a Graph token: 401", EXO, APP_ONLY, graph_token_refused)
check("no supported Entra role: 403", EXO, APP_ONLY, without_role)

# Privileged Identity Management: the Exchange Administrator role for the app's service principal.
graph = token(GRAPH_SCOPE)
sp = requests.get(f"{GRAPH}/servicePrincipals", params={"$filter": f"appId eq '{CLIENT_ID}'"},
                  headers={"Authorization": f"Bearer {graph}"}, timeout=10).json()["value"][0]["id"]


def pim_request(**changes):
    body = {"action": "adminAssign", "justification": "Email security inline mode",
            "roleDefinitionId": EXCHANGE_ADMINISTRATOR, "directoryScopeId": "/", "principalId": sp,
            "scheduleInfo": {"startDateTime": "2026-01-01T00:00:00Z", "expiration": {"type": "noExpiration"}}}
    body.update(changes)
    return graph_post("/roleManagement/directory/roleAssignmentScheduleRequests", body, graph)


def policy_rule(rule, **changes):
    message = graph_error(pim_request(**changes), 400, "RoleAssignmentRequestPolicyValidationFailed")
    assert message == f'The following policy rules failed: ["{rule}"]', message
    return message


def provisioned():
    r = pim_request()
    assert r.status_code == 201 and r.json()["status"] == "Provisioned", r.text[:300]
    return r.json()["status"]


def one_year():
    expiration = {"type": "afterDuration", "duration": "P365D"}
    return policy_rule("ExpirationRule", scheduleInfo={"startDateTime": "2026-01-01T00:00:00Z", "expiration": expiration})


check("PIM: no justification: JustificationRule", MSGRAPH, PIM_ERRORS, lambda: policy_rule("JustificationRule", justification=""))
check("PIM: longer than the policy's 180 days: ExpirationRule", MSGRAPH, PIM_EXPIRY, one_year)
check("PIM: unknown role definition: RoleNotFound", MSGRAPH, PIM_CREATE,
      lambda: graph_error(pim_request(roleDefinitionId="00000000-0000-0000-0000-000000000001"), 400, "RoleNotFound"))
check("PIM: unknown principal: SubjectNotFound", MSGRAPH, PIM_CREATE,
      lambda: graph_error(pim_request(principalId="00000000-0000-0000-0000-000000000002"), 400, "SubjectNotFound"))
check("PIM: adminAssign with a justification: 201 Provisioned", MSGRAPH, PIM_CREATE, provisioned)
check("PIM: the same again: RoleAssignmentExists", MSGRAPH, PIM_ERRORS,
      lambda: graph_error(pim_request(), 400, "RoleAssignmentExists"))


def direct(**changes):
    body = {"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": EXCHANGE_ADMINISTRATOR,
            "principalId": sp, "directoryScopeId": "/"}
    body.update(changes)
    return graph_post("/roleManagement/directory/roleAssignments", body, graph)


check("roleAssignments: already assigned: 400 conflicting object", MSGRAPH, ASSIGN,
      lambda: graph_error(direct(), 400, "Request_BadRequest"))
check("roleAssignments: unknown role definition: 404", MSGRAPH, ASSIGN,
      lambda: graph_error(direct(roleDefinitionId="00000000-0000-0000-0000-000000000001"), 404, "Request_ResourceNotFound"))
check("roleAssignments: unknown principal: 404", MSGRAPH, ASSIGN,
      lambda: graph_error(direct(principalId="00000000-0000-0000-0000-000000000002"), 404, "Request_ResourceNotFound"))

exo = Exchange()  # a token issued after the assignment carries the role


def without_manage_as_app():
    control("DELETE", "consent", {"clientId": CLIENT_ID, "permissions": ["Exchange.ManageAsApp"]})
    try:
        r = invoke("Get-InboundConnector", bearer=token(EXCHANGE_SCOPE))
    finally:
        control("POST", "consent", {"clientId": CLIENT_ID})
    assert r.status_code == 403, r.status_code
    return "403 without Exchange.ManageAsApp"


check("the role without Exchange.ManageAsApp: 403", EXO, APP_ONLY, without_manage_as_app)
check("unknown cmdlet refused", EXO, APP_ONLY,
      lambda: exo.refused("Get-Nothing", {}, 400, "CommandNotFoundException"))

# Inbound connectors.
INBOUND = {"Name": "Vendor return", "ConnectorType": "Partner", "SenderDomains": ["*"], "RequireTls": True,
           "TlsSenderCertificateName": "*.relay.example.net", "RestrictDomainsToCertificate": True,
           "EFSkipIPs": ["203.0.113.0/24", "198.51.100.1-198.51.100.20"]}


def new_inbound():
    created = exo.ok("New-InboundConnector", INBOUND)[0]
    assert created["Name"] == INBOUND["Name"] and created["ConnectorType"] == "Partner", created
    return created["Name"]


def inbound(**changes):
    return {**INBOUND, "Name": "Other", **changes}


page = cmdlet_page("New-InboundConnector")
check("New-InboundConnector: Partner with a certificate", EXO, page, new_inbound)
check("New-InboundConnector: SenderDomains is required", EXO, page,
      lambda: exo.refused("New-InboundConnector", {"Name": "x"}, 400, "ParameterBindingException"))
check("New-InboundConnector: ConnectorType is Partner or OnPremises", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(ConnectorType="Internal"), 400, "ParameterBindingException"))
check("New-InboundConnector: no embedded wildcard in SenderDomains", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(SenderDomains=["domain.*.contoso.com"]), 400, "DataValidationException"))
check("New-InboundConnector: SenderIPAddresses takes no ranges", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(SenderIPAddresses=["203.0.113.1-203.0.113.9"]), 400, "DataValidationException"))
check("New-InboundConnector: SenderIPAddresses CIDR /24 at most", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(SenderIPAddresses=["203.0.112.0/23"]), 400, "DataValidationException"))
check("New-InboundConnector: no IPv6 in SenderIPAddresses", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(SenderIPAddresses=["2001:db8::1"]), 400, "DataValidationException"))
check("New-InboundConnector: TreatMessagesAsInternal on OnPremises only", EXO, page,
      lambda: exo.refused("New-InboundConnector", inbound(TreatMessagesAsInternal=True), 400, "DataValidationException"))
check("New-InboundConnector: a name in use", EXO, page,
      lambda: exo.refused("New-InboundConnector", INBOUND, 400, "AlreadyExistsException"))
check("Set-InboundConnector: addresses and CIDR", EXO, cmdlet_page("Set-InboundConnector"),
      lambda: exo.ok("Set-InboundConnector", {"Identity": "Vendor return", "RestrictDomainsToIPAddresses": True,
                                              "SenderIPAddresses": ["203.0.113.10", "198.51.100.0/24"]}) == [] or "")
check("Get-InboundConnector: unknown identity", EXO, cmdlet_page("Get-InboundConnector"),
      lambda: exo.refused("Get-InboundConnector", {"Identity": "nope"}, 404, "ManagementObjectNotFoundException"))

# Outbound connectors.
OUTBOUND = {"Name": "Vendor route", "ConnectorType": "Partner", "UseMXRecord": False,
            "SmartHosts": ["relay.example.net"], "TlsSettings": "DomainValidation", "TlsDomain": "*.example.net",
            "IsTransportRuleScoped": True}
page = cmdlet_page("New-OutboundConnector")
check("New-OutboundConnector: rule-scoped smart host with domain validation", EXO, page,
      lambda: exo.ok("New-OutboundConnector", OUTBOUND)[0]["Name"])
check("New-OutboundConnector: UseMXRecord $false needs SmartHosts", EXO, page,
      lambda: exo.refused("New-OutboundConnector", {"Name": "x", "UseMXRecord": False}, 400, "DataValidationException"))
check("New-OutboundConnector: TlsSettings values", EXO, page,
      lambda: exo.refused("New-OutboundConnector", {**OUTBOUND, "Name": "y", "TlsSettings": "Strict"}, 400,
                          "ParameterBindingException"))
check("New-OutboundConnector: names of 64 characters at most", EXO, page,
      lambda: exo.refused("New-OutboundConnector", {**OUTBOUND, "Name": "n" * 65}, 400, "DataValidationException"))

# Groups and members.
page = cmdlet_page("New-DistributionGroup")
check("New-DistributionGroup: mail-enabled security group", EXO, page,
      lambda: exo.ok("New-DistributionGroup", {"Name": "Inline users", "Type": "Security", "Alias": "inline-users"})[0]["GroupType"])
check("New-DistributionGroup: HiddenFromAddressListsEnabled is Set-DistributionGroup's", EXO, page,
      lambda: exo.refused("New-DistributionGroup", {"Name": "g2", "HiddenFromAddressListsEnabled": True}, 400,
                          "AmbiguousParameterSetException"))
check("New-DistributionGroup: security groups are never Open", EXO, page,
      lambda: exo.refused("New-DistributionGroup", {"Name": "g3", "Type": "Security", "MemberJoinRestriction": "Open"},
                          400, "DataValidationException"))
check("Set-DistributionGroup: hidden from address lists", EXO, cmdlet_page("Set-DistributionGroup"),
      lambda: exo.ok("Set-DistributionGroup", {"Identity": "Inline users", "HiddenFromAddressListsEnabled": True}) == [] or "")
page = cmdlet_page("Add-DistributionGroupMember")
check("Add-DistributionGroupMember", EXO, page,
      lambda: exo.ok("Add-DistributionGroupMember", {"Identity": "Inline users", "Member": "ada@contoso.com",
                                                     "BypassSecurityGroupManagerCheck": True}) == [] or "")
check("Add-DistributionGroupMember: a member already", EXO, page,
      lambda: exo.refused("Add-DistributionGroupMember", {"Identity": "Inline users", "Member": "ada@contoso.com"}, 400,
                          "MemberAlreadyExistsException"))
check("Get-DistributionGroupMember", EXO, cmdlet_page("Get-DistributionGroupMember"),
      lambda: [m["PrimarySmtpAddress"] for m in exo.ok("Get-DistributionGroupMember", {"Identity": "Inline users"})])

# Transport rules.
RULE = {"Name": "Route to vendor", "Priority": 0, "FromScope": "NotInOrganization", "SentToMemberOf": ["Inline users"],
        "ExceptIfSenderIpRanges": ["203.0.113.0/24"], "ExceptIfHeaderContainsMessageHeader": "X-Vendor-Routed",
        "ExceptIfHeaderContainsWords": ["token"], "RouteMessageOutboundConnector": "Vendor route",
        "SetHeaderName": "X-Vendor-Routed", "SetHeaderValue": "token", "StopRuleProcessing": True, "Mode": "Enforce"}
page = cmdlet_page("New-TransportRule")
check("New-TransportRule: route through the outbound connector", EXO, page,
      lambda: exo.ok("New-TransportRule", RULE)[0]["State"])
check("New-TransportRule: SetHeaderName needs SetHeaderValue", EXO, page,
      lambda: exo.refused("New-TransportRule", {"Name": "r2", "SetHeaderName": "X-A"}, 400, "DataValidationException"))
check("New-TransportRule: SetSCL is -1 or 0 through 9", EXO, page,
      lambda: exo.refused("New-TransportRule", {"Name": "r3", "SetSCL": 10}, 400, "DataValidationException"))
check("New-TransportRule: the connector must exist", EXO, page,
      lambda: exo.refused("New-TransportRule", {"Name": "r4", "RouteMessageOutboundConnector": "nope"}, 404,
                          "ManagementObjectNotFoundException"))
check("New-TransportRule: priority 0 through the number of rules", EXO, page,
      lambda: exo.refused("New-TransportRule", {"Name": "r5", "Priority": 5}, 400, "DataValidationException"))
page = cmdlet_page("Set-TransportRule")
check("Set-TransportRule: no Enabled parameter", EXO, page,
      lambda: exo.refused("Set-TransportRule", {"Identity": "Route to vendor", "Enabled": False}, 400,
                          "AmbiguousParameterSetException"))


def toggled():
    exo.ok("Disable-TransportRule", {"Identity": "Route to vendor"})
    off = exo.ok("Get-TransportRule", {"Identity": "Route to vendor"})[0]["State"]
    exo.ok("Enable-TransportRule", {"Identity": "Route to vendor"})
    on = exo.ok("Get-TransportRule", {"Identity": "Route to vendor"})[0]["State"]
    assert (off, on) == ("Disabled", "Enabled"), (off, on)
    return [off, on]


check("Disable-TransportRule and Enable-TransportRule", EXO, cmdlet_page("Disable-TransportRule"), toggled)


def paged_rules():
    for i in range(4):
        exo.ok("New-TransportRule", {"Name": f"Paged {i}", "Comments": "paging"})
    rules, pages = exo.all_pages("Get-TransportRule", 2)
    assert len(rules) == 5 and pages == 3, (len(rules), pages)
    priorities = [r["Priority"] for r in rules]
    assert priorities == sorted(priorities) == list(range(5)), priorities
    return {"rules": len(rules), "pages": pages}


check("Get-TransportRule: pages by re-POST to @odata.nextLink", EXO, cmdlet_page("Get-TransportRule"), paged_rules)

# The connection filter policy.
page = cmdlet_page("Set-HostedConnectionFilterPolicy")


def allow(*entries):
    return {"Identity": "Default", "IPAllowList": {"@odata.type": "#Exchange.GenericHashTable", "Add": list(entries)}}


def allow_list_added():
    exo.ok("Set-HostedConnectionFilterPolicy", allow("203.0.113.10", "198.51.100.0/24", "192.0.2.0-192.0.2.255"))
    listed = exo.ok("Get-HostedConnectionFilterPolicy", {"Identity": "Default"})[0]["IPAllowList"]
    assert len(listed) == 3, listed
    return listed


check("Set-HostedConnectionFilterPolicy: address, CIDR and range added", EXO, page, allow_list_added)
check("Set-HostedConnectionFilterPolicy: ranges of 256 addresses at most", EXO, page,
      lambda: exo.refused("Set-HostedConnectionFilterPolicy", allow("10.0.0.0-10.0.1.0"), 400, "DataValidationException"))
check("Set-HostedConnectionFilterPolicy: CIDR /24 to /32", EXO, page,
      lambda: exo.refused("Set-HostedConnectionFilterPolicy", allow("10.0.0.0/16"), 400, "DataValidationException"))
check("Set-HostedConnectionFilterPolicy: no IPv6", EXO, page,
      lambda: exo.refused("Set-HostedConnectionFilterPolicy", allow("2001:db8::/64"), 400, "DataValidationException"))

# Removal.
check("Remove-TransportRule", EXO, cmdlet_page("Remove-TransportRule"),
      lambda: exo.ok("Remove-TransportRule", {"Identity": "Route to vendor", "Confirm": False}) == [] or "")
check("Remove-InboundConnector: no BypassSecurityGroupManagerCheck", EXO, cmdlet_page("Remove-InboundConnector"),
      lambda: exo.refused("Remove-InboundConnector", {"Identity": "Vendor return", "BypassSecurityGroupManagerCheck": True},
                          400, "AmbiguousParameterSetException"))
check("Remove-DistributionGroup", EXO, cmdlet_page("Remove-DistributionGroup"),
      lambda: exo.ok("Remove-DistributionGroup", {"Identity": "Inline users", "BypassSecurityGroupManagerCheck": True}) == [] or "")
check("Get-DistributionGroup: removed", EXO, cmdlet_page("Get-DistributionGroup"),
      lambda: exo.refused("Get-DistributionGroup", {"Identity": "Inline users"}, 404, "ManagementObjectNotFoundException"))
