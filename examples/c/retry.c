/* A call that meets 503 + Retry-After twice, then succeeds, run by k8sretry_run.
 * Build: cc retry.c $(pkg-config --cflags --libs k8sretry) -o retry */
#include <k8sretry.h>
#include <stdio.h>
#include <string.h>

static int32_t read_pod(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)userdata;
  if (attempt <= 2) { /* your HTTP call failed: describe the error */
    k8sretry_failure_set_status(failure, 503);
    k8sretry_failure_set_retry_after(failure, "1", 1);
    printf("attempt %u: 503, Retry-After: 1\n", attempt);
    return 1;
  }
  printf("attempt %u: 200 OK\n", attempt);
  return 0;
}

int main(void) {
  k8sretry_policy *policy = NULL;
  if (k8sretry_policy_new_preset("default", 7, &policy) != K8SRETRY_STATUS_OK) return 1;
  k8sretry_run_result result; /* read_pod returns 0, or describes its error in the failure and returns 1 */
  k8sretry_status st = k8sretry_run(policy, "read_pod", 8, K8SRETRY_VERB_GET, read_pod, NULL, &result);
  printf("status=%s succeeded=%d attempts=%u (libk8sretry %s)\n", k8sretry_status_message(st), result.succeeded,
         result.attempts, k8sretry_version());
  k8sretry_policy_free(policy);
  return st == K8SRETRY_STATUS_OK && result.succeeded ? 0 : 1;
}
