"""A call that meets 503 twice, then succeeds, retried by @retry_on_k8s_error.

Run: pip install k8sretry kubernetes && python decorator.py
"""

import logging

from k8sretry import metrics_text, retry_on_k8s_error
from kubernetes.client.exceptions import ApiException

# Log lines name the event and its fields (`k8s_api_call_failed_retrying, function=..., attempt=...`);
# the fields are also in each record's `extra` for JSON formatters, and structlog gets them as
# keywords when the application has configured structlog.
logging.basicConfig(format="%(levelname)s %(message)s")
attempts = 0


@retry_on_k8s_error(max_retries=5, initial_delay=0.2, max_delay=30.0)
def create_database(name: str) -> str:
    global attempts
    attempts += 1
    if attempts <= 2:  # what the client raises while the apiserver restarts
        raise ApiException(status=503, reason="Service Unavailable")
    return f"database {name} created"


print(create_database("orders"), f"after {attempts} attempts")
print("\n".join(line for line in metrics_text().splitlines() if "create_database" in line))
