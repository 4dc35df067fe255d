"""A call that meets 503 twice, then succeeds, retried by @retry_on_k8s_error.

Run: pip install k8sretry-*.whl kubernetes && python decorator.py
"""

import logging

from k8sretry import metrics_text, retry_on_k8s_error
from kubernetes.client.exceptions import ApiException

# Events carry their fields in `extra`, so a formatter can print them.
handler = logging.StreamHandler()
handler.setFormatter(
    logging.Formatter("%(levelname)s %(message)s attempt=%(attempt)s delay=%(delay_seconds)s")
)
logging.getLogger("k8sretry").addHandler(handler)
logging.getLogger("k8sretry").setLevel(logging.INFO)
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
