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
