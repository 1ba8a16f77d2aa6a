"""The identity platform of `exo-sim m365` judged by Microsoft's own libraries (MSAL for Python
and azure-identity): each check acquires a token as the library does against Microsoft Entra,
or expects the refusal Entra gives, and prints one JSON line: the check, the library, the
Microsoft Learn page it follows, and whether it held. Environment: SIM_URL (https), TENANT,
CLIENT_ID, CLIENT_SECRET, CERT_PEM and KEY_PEM (files), REQUESTS_CA_BUNDLE (the simulator's
CA)."""
import base64
import hashlib
import json
import os
import sys
import threading
import time
import traceback
from urllib.parse import parse_qs, urlparse

import msal
import requests
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes

SIM = os.environ["SIM_URL"].rstrip("/")
TENANT = os.environ["TENANT"]
CLIENT_ID = os.environ["CLIENT_ID"]
SECRET = os.environ["CLIENT_SECRET"]
CERT_PEM = open(os.environ["CERT_PEM"]).read()
KEY_PEM = open(os.environ["KEY_PEM"]).read()
GRAPH = "https://graph.microsoft.com/.default"
AUTHORITY = f"{SIM}/{TENANT}"
HOST = SIM.split("://", 1)[1]

DEVICE_CODE = "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"
ID_TOKENS = "https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference"
MSAL_ACCOUNTS = "https://learn.microsoft.com/entra/msal/python/getting-started/acquiring-tokens"
CLIENT_CREDENTIALS = "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow"
CERT_CREDENTIALS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
MSAL_CONFIDENTIAL = "https://learn.microsoft.com/entra/msal/python/getting-started/client-credentials"
AZURE_IDENTITY = "https://learn.microsoft.com/python/api/azure-identity/azure.identity"
AUTH_CODE = "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow"
SCOPES = "https://learn.microsoft.com/entra/identity-platform/scopes-oidc"
OIDC = "https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc"
ADMIN_CONSENT = "https://learn.microsoft.com/entra/identity-platform/v2-admin-consent"
ACCESS_CLAIMS = "https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference"
ERROR_CODES = "https://learn.microsoft.com/entra/identity-platform/reference-error-codes"

EXCHANGE = "https://outlook.office365.com/.default"
ADMIN = "admin@contoso.onmicrosoft.com"
FABRIKAM_ADMIN = "admin@fabrikam.onmicrosoft.com"
# Redirect URIs registered on the application (the check registers them): a native client's
# loopback address and a web application's callback.
NATIVE_REDIRECT = "http://localhost:8400/"
WEB_REDIRECT = "https://app.example.com/signin-oidc"
UNREGISTERED = "https://attacker.example.net/steal"

cert = x509.load_pem_x509_certificate(CERT_PEM.encode())
SHA1_HEX = cert.fingerprint(hashes.SHA1()).hex()


def setup():
    """The tenant's administrator consents to the application, and its redirect URIs are
    registered (the simulator's control API plays the Entra admin center)."""
    r = requests.post(f"{SIM}/_sim/tenants/{TENANT}/consent", json={"clientId": CLIENT_ID}, timeout=10)
    r.raise_for_status()
    for uri in (NATIVE_REDIRECT, WEB_REDIRECT):
        r = requests.post(f"{SIM}/_sim/apps/{CLIENT_ID}/redirect-uris", json={"uri": uri}, timeout=10)
        r.raise_for_status()


def tenant_id(domain):
    """The tenant id of `domain`, from its OpenID configuration's issuer."""
    config = requests.get(f"{SIM}/{domain}/v2.0/.well-known/openid-configuration", timeout=10).json()
    return config["issuer"].rstrip("/").split("/")[-2]


def check(name, library, page, fn):
    try:
        detail = fn()
        ok = True
    except Exception as e:  # a failed check names what went wrong
        ok, detail = False, f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps({"check": name, "library": library, "page": page, "ok": ok, "detail": detail}), flush=True)


def token_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def msal_app(credential):
    return msal.ConfidentialClientApplication(
        CLIENT_ID, authority=AUTHORITY, client_credential=credential,
        instance_discovery=False, token_cache=msal.TokenCache())


def succeeded(result):
    """`result` of an MSAL call, which must hold an access token."""
    if "access_token" not in result:
        raise AssertionError(f"{result.get('error')}: {result.get('error_description')}")
    return result


def refused(result, code):
    """`result` of an MSAL call, which must be refused with AADSTS `code`; the error."""
    assert "access_token" not in result and code in result.get("error_codes", []), result
    return result["error"]


def msal_token(credential):
    result = succeeded(msal_app(credential).acquire_token_for_client(scopes=[GRAPH]))
    claims = token_claims(result["access_token"])
    assert claims["appid"] == CLIENT_ID, claims
    return {"token_type": result["token_type"], "roles": len(claims.get("roles", []))}


def msal_refused(credential, error):
    result = msal_app(credential).acquire_token_for_client(scopes=[GRAPH])
    assert result.get("error") == error, result
    return result["error_description"].split(":")[0]


def msal_certificate_reused():
    # MSAL signs one assertion and reuses it for every request within its lifetime.
    app = msal_app({"private_key": KEY_PEM, "thumbprint": SHA1_HEX})
    first = app.acquire_token_for_client(scopes=[GRAPH])
    second = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    for r in (first, second):
        if "access_token" not in r:
            raise AssertionError(f"{r.get('error')}: {r.get('error_description')}")
    return "two tokens"


def azure(credential):
    token = credential.get_token(GRAPH)
    assert token.token and token.expires_on > 0
    return {"expires_on_set": True}


setup()
check("client secret", "msal", CLIENT_CREDENTIALS, lambda: msal_token(SECRET))
check("wrong client secret refused (AADSTS7000215)", "msal", CLIENT_CREDENTIALS,
      lambda: msal_refused("not-the-secret", "invalid_client"))
check("certificate, SHA-1 thumbprint", "msal", CERT_CREDENTIALS,
      lambda: msal_token({"private_key": KEY_PEM, "thumbprint": SHA1_HEX}))
check("certificate, SHA-256 thumbprint from the public certificate", "msal", CERT_CREDENTIALS,
      lambda: msal_token({"private_key": KEY_PEM, "public_certificate": CERT_PEM}))
check("certificate with x5c (subject name and issuer)", "msal", CERT_CREDENTIALS,
      lambda: msal_token({"private_key": KEY_PEM, "thumbprint": SHA1_HEX, "public_certificate": CERT_PEM}))
check("certificate assertion reused within its lifetime", "msal", MSAL_CONFIDENTIAL, msal_certificate_reused)
check("ClientSecretCredential", "azure-identity", AZURE_IDENTITY,
      lambda: azure(ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=HOST,
                                           disable_instance_discovery=True)))
check("CertificateCredential", "azure-identity", AZURE_IDENTITY,
      lambda: azure(CertificateCredential(TENANT, CLIENT_ID, certificate_data=(KEY_PEM + CERT_PEM).encode(),
                                          authority=HOST, disable_instance_discovery=True)))
check("CertificateCredential with x5c", "azure-identity", AZURE_IDENTITY,
      lambda: azure(CertificateCredential(TENANT, CLIENT_ID, certificate_data=(KEY_PEM + CERT_PEM).encode(),
                                          send_certificate_chain=True, authority=HOST,
                                          disable_instance_discovery=True)))


def public_app(authority=AUTHORITY, **options):
    return msal.PublicClientApplication(CLIENT_ID, authority=authority, instance_discovery=False,
                                        token_cache=msal.TokenCache(), **options)


def device_code_sign_in(app=None, upn=None, scopes=(GRAPH,)):
    """A device-code sign-in approved by `upn` (by default the tenant's first administrator; the
    control API plays the person at the browser); MSAL keeps the account and renews silently."""
    app = app or public_app()
    flow = app.initiate_device_flow(scopes=list(scopes))
    assert "user_code" in flow, flow

    def approve():
        time.sleep(1)
        body = {"upn": upn} if upn else {}
        requests.post(f"{SIM}/_sim/devicecodes/{flow['user_code']}/approve", json=body, timeout=10)

    threading.Thread(target=approve, daemon=True).start()
    flow["expires_at"] = time.time() + 30
    return app, app.acquire_token_by_device_flow(flow)


def device_code_tokens():
    _, result = device_code_sign_in()
    assert "access_token" in result, result
    assert "refresh_token" in result and "id_token" in result and "client_info" in result, sorted(result)
    id_claims = result["id_token_claims"]
    assert id_claims["aud"] == CLIENT_ID and id_claims["oid"] and id_claims["tid"], id_claims
    access = token_claims(result["access_token"])
    assert access["oid"] == id_claims["oid"], (access["oid"], id_claims["oid"])
    return {"scope": result["scope"].split()[0]}


def accounts_and_silent_renewal():
    app, result = device_code_sign_in()
    assert "access_token" in result, result
    accounts = app.get_accounts()
    assert len(accounts) == 1 and accounts[0]["home_account_id"].split(".")[0], accounts
    first = token_claims(result["access_token"])
    renewed = app.acquire_token_silent([GRAPH], account=accounts[0], force_refresh=True)
    assert renewed and "access_token" in renewed, renewed
    second = token_claims(renewed["access_token"])
    # The same user for the same app: the same oid and sub in every token.
    assert (first["oid"], first["sub"]) == (second["oid"], second["sub"]), (first, second)
    return {"accounts": len(accounts)}


check("device code: access, refresh and ID tokens, client_info", "msal", DEVICE_CODE, device_code_tokens)
check("accounts and silent renewal with a stable oid and sub", "msal", MSAL_ACCOUNTS, accounts_and_silent_renewal)


# --- A refresh token only for offline_access ------------------------------------------------
# MSAL adds offline_access to every delegated request unless told not to (exclude_scopes).


def without_offline_access():
    return public_app(exclude_scopes=["offline_access"])


def device_code_without_offline_access():
    _, result = device_code_sign_in(without_offline_access())
    succeeded(result)
    assert "refresh_token" not in result, sorted(result)
    return {"refresh_token": False}


def refresh_grant_and_offline_access():
    _, signed_in = device_code_sign_in()
    rt = succeeded(signed_in)["refresh_token"]
    renewed = succeeded(public_app().acquire_token_by_refresh_token(rt, [GRAPH]))
    assert "refresh_token" in renewed, sorted(renewed)
    once = succeeded(without_offline_access().acquire_token_by_refresh_token(rt, [GRAPH]))
    assert "refresh_token" not in once, sorted(once)
    assert "offline_access" not in renewed["scope"].split(), renewed["scope"]
    return {"with": True, "without": False}


check("device code without offline_access: no refresh token", "msal", SCOPES,
      device_code_without_offline_access)
check("refresh grant: a new refresh token only with offline_access", "msal", AUTH_CODE,
      refresh_grant_and_offline_access)


# --- Authorization code with PKCE, MSAL driving and the check playing the browser ------------


def browse(url):
    """Opens `url` as a browser would, without following the redirect: the status, the redirect
    target (or None) and the page."""
    r = requests.get(url, allow_redirects=False, timeout=10)
    return r.status_code, r.headers.get("Location"), r.text


def sign_in(app, redirect_uri, upn=ADMIN, scopes=(GRAPH,)):
    """An authorization-code flow of `app`: the authorize URL opened (the simulator signs `upn`
    in, as login_hint names it), and the flow with the redirect's query as MSAL reads it."""
    flow = app.initiate_auth_code_flow(list(scopes), redirect_uri=redirect_uri, login_hint=upn)
    status, location, page = browse(flow["auth_uri"])
    assert status in (302, 303) and location, (status, page)
    assert location.startswith(redirect_uri), location
    response = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    return flow, response


def auth_code_public_client():
    app = public_app()
    flow, response = sign_in(app, NATIVE_REDIRECT)
    assert "code_challenge_method=S256" in flow["auth_uri"], "MSAL sends a PKCE challenge"
    result = succeeded(app.acquire_token_by_auth_code_flow(flow, response))
    assert "refresh_token" in result and result["id_token_claims"]["aud"] == CLIENT_ID, sorted(result)
    accounts = app.get_accounts()
    assert len(accounts) == 1 and accounts[0]["username"] == ADMIN, accounts
    renewed = app.acquire_token_silent([GRAPH], account=accounts[0], force_refresh=True)
    assert renewed and "access_token" in renewed, renewed
    assert token_claims(renewed["access_token"])["appidacr"] == "0"
    return {"accounts": 1, "renewed": True}


def auth_code_confidential_client():
    app = msal_app(SECRET)
    flow, response = sign_in(app, WEB_REDIRECT)
    result = succeeded(app.acquire_token_by_auth_code_flow(flow, response))
    claims = token_claims(result["access_token"])
    assert claims["appidacr"] == "1" and claims["upn"] == ADMIN, claims
    return {"appidacr": claims["appidacr"]}


def auth_code_without_offline_access():
    app = without_offline_access()
    flow, response = sign_in(app, NATIVE_REDIRECT)
    result = succeeded(app.acquire_token_by_auth_code_flow(flow, response))
    assert "refresh_token" not in result and "id_token" in result, sorted(result)
    return {"refresh_token": False}


def replayed_code():
    app = public_app()
    flow, response = sign_in(app, NATIVE_REDIRECT)
    succeeded(app.acquire_token_by_auth_code_flow(dict(flow), response))
    return refused(app.acquire_token_by_auth_code_flow(dict(flow), response), 54005)


def wrong_verifier():
    app = public_app()
    flow, response = sign_in(app, NATIVE_REDIRECT)
    flow["code_verifier"] = "not-the-verifier-of-this-challenge-" + "x" * 20
    return refused(app.acquire_token_by_auth_code_flow(flow, response), 501481)


def unregistered_redirect_uri():
    flow = public_app().initiate_auth_code_flow([GRAPH], redirect_uri=UNREGISTERED, login_hint=ADMIN)
    status, location, page = browse(flow["auth_uri"])
    assert location is None and status == 400 and "AADSTS50011" in page, (status, location)
    return {"status": status, "redirected": False}


check("auth code with PKCE (public client): tokens, account, silent renewal", "msal", AUTH_CODE,
      auth_code_public_client)
check("auth code (confidential client, secret)", "msal", AUTH_CODE, auth_code_confidential_client)
check("auth code without offline_access: no refresh token", "msal", SCOPES, auth_code_without_offline_access)
check("replayed authorization code refused (AADSTS54005)", "msal", ERROR_CODES, replayed_code)
check("wrong PKCE verifier refused (AADSTS501481)", "msal", AUTH_CODE, wrong_verifier)
check("unregistered redirect URI refused (AADSTS50011), never redirected", "msal", AUTH_CODE,
      unregistered_redirect_uri)


# --- The multi-tenant authorities: common, organizations, consumers --------------------------


def discovery_documents():
    for alias in ("common", "organizations"):
        config = requests.get(f"{SIM}/{alias}/v2.0/.well-known/openid-configuration", timeout=10).json()
        assert config["issuer"] == f"{SIM}/{{tenantid}}/v2.0", config["issuer"]
        assert config["token_endpoint"] == f"{SIM}/{alias}/oauth2/v2.0/token", config
    tenant = requests.get(f"{SIM}/{TENANT}/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert "{tenantid}" not in tenant["issuer"], tenant["issuer"]
    return {"issuer": "{tenantid}"}


def device_code_organizations():
    app = public_app(f"{SIM}/organizations")
    app, result = device_code_sign_in(app, upn=FABRIKAM_ADMIN)
    succeeded(result)
    fabrikam = tenant_id("fabrikam.onmicrosoft.com")
    assert token_claims(result["access_token"])["tid"] == fabrikam
    assert result["id_token_claims"]["tid"] == fabrikam, result["id_token_claims"]
    account = app.get_accounts()[0]
    renewed = app.acquire_token_silent([GRAPH], account=account, force_refresh=True)
    assert renewed and token_claims(renewed["access_token"])["tid"] == fabrikam, renewed
    return {"tenant": "from the user"}


def auth_code_common():
    app = public_app(f"{SIM}/common")
    flow, response = sign_in(app, NATIVE_REDIRECT, upn=FABRIKAM_ADMIN)
    result = succeeded(app.acquire_token_by_auth_code_flow(flow, response))
    assert result["id_token_claims"]["tid"] == tenant_id("fabrikam.onmicrosoft.com")
    return {"tenant": "from the user"}


def client_credentials_need_a_tenant():
    errors = [refused(msal.ConfidentialClientApplication(
        CLIENT_ID, authority=f"{SIM}/{alias}", client_credential=SECRET, instance_discovery=False,
        token_cache=msal.TokenCache()).acquire_token_for_client([GRAPH]), 50059)
        for alias in ("common", "organizations")]
    return {"errors": errors}


def consumers_refused():
    flow = public_app(f"{SIM}/consumers").initiate_device_flow(scopes=[GRAPH])
    assert "user_code" not in flow and 9002332 in flow.get("error_codes", []), flow
    return {"error": flow["error"]}


check("common and organizations discovery documents: issuer templated with {tenantid}", "protocol",
      OIDC, discovery_documents)
check("device code through organizations: the user's tenant, silent renewal", "msal", OIDC,
      device_code_organizations)
check("auth code through common: the user's tenant", "msal", OIDC, auth_code_common)
check("client credentials through common or organizations refused (AADSTS50059)", "msal",
      ERROR_CODES, client_credentials_need_a_tenant)
check("consumers refused to a work-account application (AADSTS9002332)", "msal", ERROR_CODES,
      consumers_refused)


# --- Admin consent: redirected only to a registered redirect URI -----------------------------


def consent_url(path, redirect_uri):
    return (f"{SIM}/{TENANT}/{path}?client_id={CLIENT_ID}&state=s-42"
            f"&redirect_uri={requests.utils.quote(redirect_uri, safe='')}")


def consent_unregistered_redirect():
    for path in ("adminconsent", "v2.0/adminconsent"):
        status, location, page = browse(consent_url(path, UNREGISTERED))
        assert location is None and status == 400 and "AADSTS50011" in page, (path, status, location)
    return {"redirected": False}


def consent_registered_redirect():
    for path in ("adminconsent", "v2.0/adminconsent"):
        _, location, _ = browse(consent_url(path, WEB_REDIRECT))
        query = parse_qs(urlparse(location).query)
        assert location.startswith(WEB_REDIRECT), location
        assert query["admin_consent"] == ["True"] and query["state"] == ["s-42"], query
        assert query["tenant"] == [tenant_id(TENANT)], query
    return {"admin_consent": "True"}


check("admin consent: unregistered redirect_uri refused (AADSTS50011), never redirected", "protocol",
      ADMIN_CONSENT, consent_unregistered_redirect)
check("admin consent: registered redirect_uri gets admin_consent, tenant and state", "protocol",
      ADMIN_CONSENT, consent_registered_redirect)


# --- v1.0 access tokens for Microsoft Graph and Exchange Online ------------------------------


def v1_claims(token, acr):
    claims = token_claims(token)
    assert claims["ver"] == "1.0" and claims["iss"] == f"https://sts.windows.net/{claims['tid']}/", claims
    assert claims["appid"] == CLIENT_ID and claims["appidacr"] == acr, claims
    assert "azp" not in claims and "azpacr" not in claims, sorted(claims)
    return claims


def app_only_v1_claims():
    for credential, acr in ((SECRET, "1"), ({"private_key": KEY_PEM, "thumbprint": SHA1_HEX}, "2")):
        for scope in (GRAPH, EXCHANGE):
            v1_claims(succeeded(msal_app(credential).acquire_token_for_client([scope]))["access_token"], acr)
    return {"appidacr": ["1", "2"]}


def delegated_v1_claims():
    _, result = device_code_sign_in()
    v1_claims(succeeded(result)["access_token"], "0")
    return {"appidacr": "0"}


def azure_identity_v1_claims():
    secret = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=HOST, disable_instance_discovery=True)
    cert = CertificateCredential(TENANT, CLIENT_ID, certificate_data=(KEY_PEM + CERT_PEM).encode(),
                                 authority=HOST, disable_instance_discovery=True)
    v1_claims(secret.get_token(EXCHANGE).token, "1")
    v1_claims(cert.get_token(GRAPH).token, "2")
    return {"appidacr": ["1", "2"]}


check("app-only v1.0 tokens: appid and appidacr (1 secret, 2 certificate), no azp", "msal",
      ACCESS_CLAIMS, app_only_v1_claims)
check("delegated v1.0 token of a public client: appidacr 0", "msal", ACCESS_CLAIMS, delegated_v1_claims)
check("v1.0 claims of ClientSecretCredential and CertificateCredential tokens", "azure-identity",
      ACCESS_CLAIMS, azure_identity_v1_claims)


# --- Last, as it breaks the application's secret for the rest of the run ---------------------


def expired_secret():
    requests.post(f"{SIM}/_sim/apps/{CLIENT_ID}/secrets/expire", json={}, timeout=10).raise_for_status()
    return refused(msal_app(SECRET).acquire_token_for_client([GRAPH]), 7000222)


check("expired client secret refused (AADSTS7000222)", "msal", CLIENT_CREDENTIALS, expired_secret)
