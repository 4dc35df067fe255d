/* C: the decision through the FFI. Times k8sretry_call_on_failure for a 503 on a GET on a call
 * begun outside the timing, then begin + on_failure + free, then the success path
 * (begin + on_success + free): the fastest of 7 rounds. Prints one JSON object. Built by `make bench`. */
#define _POSIX_C_SOURCE 199309L
#include <k8sretry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 200000
#define BATCH 1000
#define ROUNDS 7

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void check(enum k8sretry_status s, const char *what) {
  if (s != K8SRETRY_STATUS_OK) {
    fprintf(stderr, "%s: %s\n", what, k8sretry_status_message(s));
    exit(1);
  }
}

/* ns per begin + (on_failure with `failure`, or on_success when it is NULL) + free. */
static double per_call(const k8sretry_policy *policy, const k8sretry_failure *failure, k8sretry_decision *decision) {
  double t = now_ns();
  for (int i = 0; i < N; i++) {
    k8sretry_call *call = NULL;
    k8sretry_call_begin(policy, "read_pod", 8, K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &call);
    if (failure != NULL) k8sretry_call_on_failure(call, failure, decision);
    else k8sretry_call_on_success(call);
    k8sretry_call_free(call);
  }
  return (now_ns() - t) / N;
}

int main(void) {
  const char *json = "{\"budget\": null}";
  k8sretry_policy *policy = NULL;
  check(k8sretry_policy_from_json(json, strlen(json), NULL, &policy, NULL, 0), "policy");
  k8sretry_policy *shared = NULL;
  check(k8sretry_policy_new_preset("default", 7, &shared), "preset");
  k8sretry_failure *failure = NULL;
  check(k8sretry_failure_new(&failure), "failure");
  check(k8sretry_failure_set_status(failure, 503), "status");
  check(k8sretry_failure_set_verb(failure, K8SRETRY_VERB_GET), "verb");
  k8sretry_decision decision;
  static k8sretry_call *calls[BATCH];
  double alone[ROUNDS], full[ROUNDS], budget[ROUNDS], success[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    /* on_failure alone: calls begun in batches outside the timed loop. */
    double spent = 0;
    for (int done = 0; done < N; done += BATCH) {
      for (int i = 0; i < BATCH; i++) check(k8sretry_call_begin(policy, "read_pod", 8, K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &calls[i]), "begin");
      double t = now_ns();
      for (int i = 0; i < BATCH; i++) k8sretry_call_on_failure(calls[i], failure, &decision);
      spent += now_ns() - t;
      for (int i = 0; i < BATCH; i++) k8sretry_call_free(calls[i]);
    }
    alone[r] = spent / N;
    full[r] = per_call(policy, failure, &decision);
    budget[r] = per_call(shared, failure, &decision);
    success[r] = per_call(shared, NULL, &decision);
  }
  if (decision.action != K8SRETRY_ACTION_RETRY && decision.action != K8SRETRY_ACTION_GIVE_UP) return 1;
  qsort(alone, ROUNDS, sizeof(double), cmp);
  qsort(full, ROUNDS, sizeof(double), cmp);
  qsort(budget, ROUNDS, sizeof(double), cmp);
  qsort(success, ROUNDS, sizeof(double), cmp);
  printf("{\"decision alone (on_failure) ns\": %.1f, \"begin + on_failure + free ns\": %.1f, "
         "\"begin + on_failure + free, shared budget ns\": %.1f, \"begin + on_success + free ns\": %.1f}\n",
         alone[0], full[0], budget[0], success[0]);
  k8sretry_failure_free(failure);
  k8sretry_policy_free(policy);
  k8sretry_policy_free(shared);
  return 0;
}
