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

cert = x509.load_pem_x509_certificate(CERT_PEM.encode())
SHA1_HEX = cert.fingerprint(hashes.SHA1()).hex()


def setup():
    """The tenant's administrator consents to the application (the simulator's control API)."""
    r = requests.post(f"{SIM}/_sim/tenants/{TENANT}/consent", json={"clientId": CLIENT_ID}, timeout=10)
    r.raise_for_status()


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


def msal_token(credential):
    result = msal_app(credential).acquire_token_for_client(scopes=[GRAPH])
    if "access_token" not in result:
        raise AssertionError(f"{result.get('error')}: {result.get('error_description')}")
    claims = token_claims(result["access_token"])
    assert claims["appid"] == CLIENT_ID or claims.get("azp") == CLIENT_ID, claims
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


def device_code_sign_in():
    """A device-code sign-in approved by the tenant's administrator (the control API plays the
    person at the browser); MSAL keeps the account and renews silently."""
    app = msal.PublicClientApplication(CLIENT_ID, authority=AUTHORITY, instance_discovery=False,
                                       token_cache=msal.TokenCache())
    flow = app.initiate_device_flow(scopes=[GRAPH])
    assert "user_code" in flow, flow

    def approve():
        time.sleep(1)
        requests.post(f"{SIM}/_sim/devicecodes/{flow['user_code']}/approve", json={}, timeout=10)

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
