"""Kubernetes' Python client against the API server in KUBECONFIG, in namespace NS: it prints
what a user of the client sees (objects, status codes and reasons of errors) as JSON lines."""
import json
import os

from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config()
ns = os.environ["NS"]
core = client.CoreV1Api()
custom = client.CustomObjectsApi()


def show(what, fn):
    try:
        result = fn()
        if hasattr(result, "to_dict"):
            result = result.to_dict()
        print(json.dumps({"what": what, "ok": summary(result)}, sort_keys=True))
    except ApiException as e:
        body = json.loads(e.body) if e.body else {}
        print(json.dumps({"what": what, "status": e.status, "reason": body.get("reason"),
                          "message": body.get("message")}, sort_keys=True))


def summary(obj):
    if isinstance(obj, dict):
        meta = obj.get("metadata") or {}
        out = {k: obj.get(k) for k in ("kind", "data", "spec", "status", "type") if obj.get(k) is not None}
        out["name"] = meta.get("name")
        if "items" in obj:
            out["items"] = [(i.get("metadata") or {}).get("name") for i in obj["items"]]
        return out
    return obj


cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"via": "python"}), data={"a": "1"})
show("create configmap", lambda: core.create_namespaced_config_map(ns, cm))
show("create it again", lambda: core.create_namespaced_config_map(ns, cm))
show("read", lambda: core.read_namespaced_config_map("py", ns))
show("patch", lambda: core.patch_namespaced_config_map("py", ns, {"data": {"b": "2"}}))
show("list by label", lambda: core.list_namespaced_config_map(ns, label_selector="via=python"))
secret = client.V1Secret(metadata=client.V1ObjectMeta(name="pys"), string_data={"k": "v"})
show("create secret", lambda: core.create_namespaced_secret(ns, secret))
show("delete configmap", lambda: core.delete_namespaced_config_map("py", ns))
show("delete it again", lambda: core.delete_namespaced_config_map("py", ns))
widget = {"apiVersion": "diff.exo-operator.io/v1", "kind": "Widget",
          "metadata": {"name": "pyw"}, "spec": {"color": "green"}}
show("create widget", lambda: custom.create_namespaced_custom_object("diff.exo-operator.io", "v1", ns, "widgets", widget))
show("patch widget status", lambda: custom.patch_namespaced_custom_object_status(
    "diff.exo-operator.io", "v1", ns, "widgets", "pyw", {"status": {"phase": "Ready"}}))
show("invalid widget", lambda: custom.create_namespaced_custom_object(
    "diff.exo-operator.io", "v1", ns, "widgets",
    {"apiVersion": "diff.exo-operator.io/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"size": 50}}))
show("list widgets", lambda: custom.list_namespaced_custom_object("diff.exo-operator.io", "v1", ns, "widgets"))
show("delete widget", lambda: custom.delete_namespaced_custom_object("diff.exo-operator.io", "v1", ns, "widgets", "pyw"))
