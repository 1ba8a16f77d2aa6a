"""Microsoft Graph change-notification subscriptions of `exo-sim m365` judged by Microsoft's own
SDK (msgraph-sdk for Python): subscriptions created (after the validation handshake with a
subscriber served here on 127.0.0.1), listed page by page, renewed, reauthorized and deleted
through the SDK's request builders, and the change and lifecycle notifications the simulator
posts to those subscriptions checked against Learn's shape (the Python SDK has no model for
them). One JSON line per check, as graph.py prints them."""
import asyncio
import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from msgraph.generated.models.subscription import Subscription

from graph_sdk import CLIENT_ID, TENANT, check, control, graph_client, refused

LEARN = "https://learn.microsoft.com/graph"
CREATE = f"{LEARN}/api/subscription-post-subscriptions"
LIST = f"{LEARN}/api/subscription-list"
UPDATE = f"{LEARN}/api/subscription-update"
REAUTHORIZE = f"{LEARN}/api/subscription-reauthorize"
DELETE = f"{LEARN}/api/subscription-delete"
WEBHOOKS = f"{LEARN}/change-notifications-delivery-webhooks"
LIFECYCLE = f"{LEARN}/change-notifications-lifecycle-events"
OUTLOOK = f"{LEARN}/outlook-change-notifications-overview"

client = graph_client()


class Subscriber(BaseHTTPRequestHandler):
    """Answers Graph's validation requests with the decoded token (or, under `/wrong`, with
    something else) and records every notification."""
    validations = []
    notifications = []

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        token = parse_qs(url.query).get("validationToken")
        if token:
            Subscriber.validations.append((url.path, token[0], self.headers.get("Content-Type")))
            answer = b"not the token" if url.path == "/wrong" else token[0].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        Subscriber.notifications.append((url.path, body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Subscriber)
threading.Thread(target=server.serve_forever, daemon=True).start()
HOOK = f"http://127.0.0.1:{server.server_address[1]}"


def soon(days=2):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


async def ada():
    return await client.users.by_user_id("ada@contoso.com").get()


def inbox_of(user):
    return f"users/{user.id}/mailFolders('inbox')/messages"


async def create(user, path="/notify", days=2):
    return await client.subscriptions.post(Subscription(
        change_type="created",
        notification_url=f"{HOOK}{path}",
        lifecycle_notification_url=f"{HOOK}/lifecycle",
        resource=inbox_of(user),
        expiration_date_time=soon(days),
        client_state="exo-conformance-secret",
        latest_supported_tls_version="v1_2",
    ))


def parse(body):
    """The notifications of a body `{"value": [...]}`."""
    return json.loads(body)["value"]


async def wait_for(predicate, what):
    for _ in range(100):
        found = predicate()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def created_after_handshake():
    user = await ada()
    before = len(Subscriber.validations)
    sub = await create(user)
    assert sub.id and sub.resource == inbox_of(user), (sub.id, sub.resource)
    assert sub.client_state == "exo-conformance-secret", sub.client_state
    assert sub.change_type == "created", sub.change_type
    assert abs((sub.expiration_date_time - soon()).total_seconds()) < 120, sub.expiration_date_time
    paths = [v[0] for v in Subscriber.validations[before:]]
    assert "/notify" in paths and "/lifecycle" in paths, paths
    assert all(v[2].startswith("text/plain") for v in Subscriber.validations[before:])
    return {"id": sub.id, "validations": paths}


async def failed_handshake_creates_nothing():
    user = await ada()
    before = len((await client.subscriptions.get()).value)
    await refused(lambda: create(user, path="/wrong"), 400, "ValidationError")
    after = len((await client.subscriptions.get()).value)
    assert after == before, (before, after)
    return {"subscriptions": after}


async def listed_page_by_page():
    user = await ada()
    for _ in range(3):
        await create(user)
    control("PUT", "/subscriptions/settings", {"pageSize": 2})
    try:
        page = await client.subscriptions.get()
        seen = list(page.value)
        pages = 1
        while page.odata_next_link:
            page = await client.subscriptions.with_url(page.odata_next_link).get()
            seen += page.value
            pages += 1
    finally:
        control("PUT", "/subscriptions/settings", {"pageSize": 100})
    assert pages >= 2 and len(seen) >= 4, (pages, len(seen))
    assert len({s.id for s in seen}) == len(seen), "no subscription listed twice"
    assert all(s.client_state is None for s in seen), "clientState is not returned"
    return {"pages": pages, "subscriptions": len(seen)}


async def renewed_and_reauthorized():
    sub = await create(await ada())
    later = soon(5)
    renewed = await client.subscriptions.by_subscription_id(sub.id).patch(
        Subscription(expiration_date_time=later))
    assert abs((renewed.expiration_date_time - later).total_seconds()) < 2, renewed.expiration_date_time
    await client.subscriptions.by_subscription_id(sub.id).reauthorize.post()
    again = await client.subscriptions.by_subscription_id(sub.id).get()
    assert again.id == sub.id and again.client_state is None, again
    return {"expires": renewed.expiration_date_time.isoformat()}


async def beyond_the_maximum_refused():
    user = await ada()
    await refused(lambda: create(user, days=8), 400, "ExtensionError")
    return {"refused": "8 days"}


async def deleted_then_gone():
    sub = await create(await ada())
    await client.subscriptions.by_subscription_id(sub.id).delete()
    await refused(lambda: client.subscriptions.by_subscription_id(sub.id).get(), 404)
    return {"deleted": sub.id}


async def change_notification_parses():
    user = await ada()
    sub = await create(user)
    before = len(Subscriber.notifications)
    control("POST", f"/tenants/{TENANT}/users/ada@contoso.com/messages", {"subject": "hello"})

    def ours():
        for path, body in Subscriber.notifications[before:]:
            if path == "/notify":
                for n in parse(body):
                    if n.get("subscriptionId") == sub.id:
                        return n
        return None

    n = await wait_for(ours, "the change notification")
    assert n["changeType"] == "created", n
    assert n["clientState"] == "exo-conformance-secret", n
    assert n["tenantId"] and user.id.lower() in n["resource"].lower(), n
    data = n["resourceData"]
    assert data["@odata.type"] == "#Microsoft.Graph.Message" and data["id"], data
    assert n["resource"].lower().endswith(data["id"].lower()), n
    datetime.datetime.fromisoformat(n["subscriptionExpirationDateTime"].replace("Z", "+00:00"))
    return {"resource": n["resource"]}


async def lifecycle_notification_parses():
    sub = await create(await ada())
    before = len(Subscriber.notifications)
    control("POST", f"/tenants/{TENANT}/subscriptions/{sub.id}/lifecycle",
            {"lifecycleEvent": "missed"})

    def ours():
        for path, body in Subscriber.notifications[before:]:
            if path == "/lifecycle":
                for n in parse(body):
                    if n.get("subscriptionId") == sub.id:
                        return n
        return None

    n = await wait_for(ours, "the lifecycle notification")
    assert n["lifecycleEvent"] == "missed", n
    assert n["clientState"] == "exo-conformance-secret", n
    assert n["tenantId"] and n["subscriptionExpirationDateTime"], n
    return {"lifecycleEvent": "missed"}


async def main():
    # The administrator consents: the application holds Mail.ReadWrite (and the rest).
    control("POST", f"/tenants/{TENANT}/consent", {"clientId": CLIENT_ID})
    checks = [
        ("subscriptions: created after the validation handshake of both URLs", CREATE,
         created_after_handshake),
        ("subscriptions: a failed validation creates nothing", WEBHOOKS,
         failed_handshake_creates_nothing),
        ("subscriptions: listed page by page, clientState not returned", LIST, listed_page_by_page),
        ("subscriptions: renewed with PATCH, reauthorized", REAUTHORIZE, renewed_and_reauthorized),
        ("subscriptions: an expiration beyond the maximum for messages is refused", OUTLOOK,
         beyond_the_maximum_refused),
        ("subscriptions: deleted, then 404", DELETE, deleted_then_gone),
        ("change notifications: a delivered message, in Learn's shape", WEBHOOKS,
         change_notification_parses),
        ("lifecycle notifications: missed, in Learn's shape", LIFECYCLE,
         lifecycle_notification_parses),
    ]
    for name, page, fn in checks:
        await check(name, page, fn)


asyncio.run(main())
