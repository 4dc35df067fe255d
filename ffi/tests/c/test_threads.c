/* One policy, one budget, one event callback shared by 8 threads. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "k8sretry.h"

#define THREADS 8
#define CALLS_PER_THREAD 200

static atomic_int events_retrying;
static atomic_int events_budget;
static atomic_int attempts_made;

static void on_event(void *userdata, const k8sretry_event *e) {
  (void)userdata;
  if (strcmp(e->name, "k8s_api_call_failed_retrying") == 0) atomic_fetch_add(&events_retrying, 1);
  if (strcmp(e->name, "k8s_api_call_budget_exhausted") == 0) atomic_fetch_add(&events_budget, 1);
}

/* Every attempt fails with 503: a full outage. */
static int32_t outage(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)userdata;
  (void)attempt;
  atomic_fetch_add(&attempts_made, 1);
  k8sretry_failure_set_status(failure, 503);
  k8sretry_failure_set_error(failure, "ApiException", 12, "Unavailable", 11);
  return 1;
}

struct worker {
  const k8sretry_policy *policy;
  int succeeded, gave_up_budget, gave_up_max, bad_status;
};

static void *work(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    k8sretry_run_result r;
    if (k8sretry_run(w->policy, "outage", 6, K8SRETRY_VERB_GET, outage, NULL, &r) != K8SRETRY_STATUS_OK) {
      w->bad_status++;
      continue;
    }
    if (r.succeeded) w->succeeded++;
    if (r.give_up_reason == K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED) w->gave_up_budget++;
    if (r.give_up_reason == K8SRETRY_GIVE_UP_MAX_RETRIES) w->gave_up_max++;
  }
  return NULL;
}

/* ---- setting and clearing the callback while other threads emit events ---- */

struct sink {
  atomic_int calls;
  atomic_bool freed; /* set (under the test's control) only after the clear returned */
};
static atomic_int after_clear;
static atomic_bool emitting;

static void on_sink(void *userdata, const k8sretry_event *e) {
  (void)e;
  struct sink *s = userdata;
  atomic_fetch_add(&s->calls, 1);
  for (volatile int spin = 0; spin < 2000; spin++) { /* a callback that takes a while */
  }
  if (atomic_load(&s->freed)) atomic_fetch_add(&after_clear, 1); /* valgrind/ASan: read after free */
}

/* A callback that replaces itself: must not deadlock. */
static atomic_int reentered;
static void on_reenter(void *userdata, const k8sretry_event *e) {
  (void)e;
  atomic_fetch_add(&reentered, 1);
  k8sretry_set_event_callback(on_reenter, userdata);
}

static int32_t always_503(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)userdata;
  (void)attempt;
  k8sretry_failure_set_status(failure, 503);
  return 1;
}

static void *emit(void *arg) {
  const k8sretry_policy *policy = arg;
  while (atomic_load(&emitting)) {
    k8sretry_run_result r;
    k8sretry_run(policy, "emit", 4, K8SRETRY_VERB_GET, always_503, NULL, &r);
  }
  return NULL;
}

/* The header promises: once k8sretry_set_event_callback returns, the previous callback is not
 * running and never runs again, so its userdata may be freed. */
static void clearing_waits_for_callbacks_in_flight(void) {
  const char *json = "{\"initial_delay\": 0.000001, \"max_delay\": 0.000001, \"max_retries\": 2, \"budget\": null}";
  k8sretry_policy *policy = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &policy, NULL, 0));
  atomic_store(&emitting, true);
  pthread_t threads[4];
  for (int t = 0; t < 4; t++) pthread_create(&threads[t], NULL, emit, policy);
  int total = 0;
  for (int round = 0; round < 300; round++) {
    struct sink *s = calloc(1, sizeof *s);
    CHECK_OK(k8sretry_set_event_callback(on_sink, s));
    usleep(300);
    CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
    atomic_store(&s->freed, true);
    total += atomic_load(&s->calls);
    free(s);
  }
  CHECK_OK(k8sretry_set_event_callback(on_reenter, NULL));
  usleep(50000);
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
  atomic_store(&emitting, false);
  for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  printf("threads: %d callbacks across 300 set/clear rounds, %d re-entrant sets\n", total, atomic_load(&reentered));
  CHECK(total > 0 && atomic_load(&reentered) > 0, "the callbacks ran at all");
  CHECK(atomic_load(&after_clear) == 0, "%d callbacks ran after the clear returned", atomic_load(&after_clear));
  k8sretry_policy_free(policy);
}

int main(void) {
  /* Tiny delays so the outage runs fast; a budget of its own: 20% of first attempts at every
   * moment (burst = ratio: no allowance for the start of the episode), floor 10. */
  const char *json =
      "{\"initial_delay\": 0.0001, \"max_delay\": 0.0002, \"max_retries\": 3,"
      " \"budget\": {\"ratio\": 0.2, \"burst\": 0.2, \"min_per_second\": 1, \"ttl\": 10}}";
  k8sretry_policy *policy = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &policy, NULL, 0));
  CHECK_OK(k8sretry_set_event_callback(on_event, NULL));

  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (struct worker){.policy = policy};
    pthread_create(&threads[t], NULL, work, &workers[t]);
  }
  int succeeded = 0, budget = 0, max = 0, bad = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    succeeded += workers[t].succeeded;
    budget += workers[t].gave_up_budget;
    max += workers[t].gave_up_max;
    bad += workers[t].bad_status;
  }
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));

  int calls = THREADS * CALLS_PER_THREAD;
  int attempts = atomic_load(&attempts_made);
  int retries = attempts - calls;
  printf("threads: %d calls, %d attempts, %d retries, %d budget give-ups, %d max-retries give-ups\n", calls, attempts,
         retries, budget, max);
  CHECK(bad == 0, "%d calls returned a bad status", bad);
  CHECK(succeeded == 0, "nothing can succeed in an outage");
  CHECK(budget + max == calls, "every call gave up: %d + %d", budget, max);
  /* 1600 first attempts deposit 320 tokens (the floor, 10, is below that); races may overdraw a few. */
  CHECK(retries >= 319 && retries <= 320 + THREADS, "retries %d stay at 20%% of first attempts", retries);
  CHECK(atomic_load(&events_retrying) == retries, "one retry event per retry (%d)", atomic_load(&events_retrying));
  CHECK(atomic_load(&events_budget) == budget, "one budget event per budget give-up");
  k8sretry_policy_free(policy);
  clearing_waits_for_callbacks_in_flight();
  return harness_finish("threads");
}
