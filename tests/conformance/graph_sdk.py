"""What the scripts judging Microsoft Graph of `exo-sim m365` with Microsoft's own SDK
(msgraph-sdk for Python, with azure-identity) share: the environment, a GraphServiceClient
pointed at the simulator, request configurations, the control API, and how a check is run and
printed (one JSON line: the check, the library, the Microsoft Learn page it follows, whether it
held). Environment: SIM_URL (https), TENANT, CLIENT_ID, CLIENT_SECRET, REQUESTS_CA_BUNDLE."""
import json
import os
import ssl
import sys
import traceback
from urllib.parse import urlsplit

import httpx
import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory

SIM = os.environ["SIM_URL"].rstrip("/")
TENANT = os.environ["TENANT"]
CLIENT_ID = os.environ["CLIENT_ID"]
SECRET = os.environ["CLIENT_SECRET"]
CA = os.environ["REQUESTS_CA_BUNDLE"]
HOST = urlsplit(SIM).netloc
LIBRARY = "msgraph-sdk"


def control(method, path, body=None):
    """The simulator's control API (the administrator, or the directory changing behind Graph)."""
    r = requests.request(method, f"{SIM}/_sim{path}", json=body if body is not None else {}, timeout=10)
    r.raise_for_status()
    return r.json() if r.content else None


def graph_client(version="v1.0", scope="https://graph.microsoft.com/.default"):
    """A GraphServiceClient pointed at the simulator, as Learn's "Create a Microsoft Graph client"
    builds one, with the national-cloud knobs turned to the simulator (`scope`: the tokens it
    asks for)."""
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=HOST,
                                        disable_instance_discovery=True)
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[scope],
        allowed_hosts=[urlsplit(SIM).hostname])
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=CA), timeout=30))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{SIM}/{version}"
    return GraphServiceClient(request_adapter=adapter)



def config(query=None, eventual=False, headers=None, options=None):
    """A request configuration: query parameters, `ConsistencyLevel: eventual`, headers, options."""
    c = RequestConfiguration(query_parameters=query, options=options or [])
    if eventual:
        c.headers.add("ConsistencyLevel", "eventual")
    for k, v in (headers or {}).items():
        c.headers.add(k, v)
    return c


async def check(name, page, fn):
    try:
        detail = await fn()
        ok = True
    except Exception as e:  # a failed check names what went wrong
        ok, detail = False, f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps({"check": name, "library": LIBRARY, "page": page, "ok": ok, "detail": detail}),
          flush=True)


async def refused(call, status, code=None):
    """Runs `call`, which must fail with Graph's error `status` (and `code`): the SDK's ODataError
    with the innerError Graph gives."""
    try:
        await call()
    except ODataError as e:
        assert e.response_status_code == status, (e.response_status_code, e.error and e.error.code)
        assert code is None or e.error.code == code, (e.error.code, e.error.message)
        inner = e.error.inner_error
        assert inner and inner.request_id and inner.date, "innerError with request-id and date"
        return e
    raise AssertionError(f"expected {status} {code or ''}, got a success")


def context(model):
    return model.additional_data.get("@odata.context", "")
