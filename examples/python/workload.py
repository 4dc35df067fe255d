"""The demo workload: an app's config written through the `kubernetes` client wrapped by k8sretry.

Creates 20 ConfigMaps (read, labelled, every 4th deleted) and 5 generateName Secrets in
$K8SRETRY_NAMESPACE of $KUBECONFIG; prints one JSON line: operations, retries, recovered, and the
objects that must exist. Run by `make demo` through the fault proxy.
"""

import json
import os

import k8sretry
from kubernetes import client, config

namespace = os.environ["K8SRETRY_NAMESPACE"]
configuration = client.Configuration()
config.load_kube_config(client_configuration=configuration)
configuration.retries = False  # urllib3 would repeat requests by itself; k8sretry decides
# Short delays for a demo; the same policy in every language's workload.
policy = k8sretry.Policy(max_retries=6, initial_delay=0.2, max_delay=2.0)
api = k8sretry.wrap_client(client.CoreV1Api(client.ApiClient(configuration)), policy=policy)

operations, kept = 0, []
for i in range(20):
    name = f"app-config-{i}"
    api.create_namespaced_config_map(namespace, {"metadata": {"name": name}, "data": {"i": str(i)}})
    api.read_namespaced_config_map(name, namespace)
    api.patch_namespaced_config_map(name, namespace, {"metadata": {"labels": {"app": "demo"}}})
    operations += 3
    if i % 4 == 0:
        api.delete_namespaced_config_map(name, namespace)
        operations += 1
    else:
        kept.append(name)
for _ in range(5):
    api.create_namespaced_secret(namespace, {"metadata": {"generateName": "app-secret-"}})
    operations += 1


def total(prefix: str, containing: str = "") -> int:
    lines = k8sretry.metrics_text().splitlines()
    return sum(int(float(x.rsplit(" ", 1)[1])) for x in lines if x.startswith(prefix) and containing in x)


print(
    json.dumps(
        {
            "operations": operations,
            "retries": total("k8sretry_retries_total"),
            "recovered": total("k8sretry_calls_total", 'outcome="recovered"'),
            "configmaps": kept,
            "secrets": 5,
        }
    )
)
