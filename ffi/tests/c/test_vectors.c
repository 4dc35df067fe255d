/* Runs every conformance vector in tests/vectors/ through the C API (see its README). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "k8sretry.h"

#define S(x) (x), strlen(x)

static char *read_file(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static cJSON *load(const char *dir, const char *name) {
  char *text = read_file(dir, name);
  cJSON *doc = cJSON_Parse(text);
  free(text);
  if (!doc) {
    fprintf(stderr, "%s is not JSON\n", name);
    exit(2);
  }
  return doc;
}

static uint32_t verb_of(const char *name) {
  static const char *names[] = {"UNKNOWN", "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE"};
  for (uint32_t i = 0; i < 8; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return 0;
}

static uint32_t recovery_of(const char *name) {
  static const char *names[] = {"none",       "create",         "create_adopt",     "delete",         "delete_missing_ok",
                                "idempotent", "retry_conflict", "create_generated", "replace_stamped", "not_idempotent"};
  for (uint32_t i = 0; i < 10; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return 99;
}

static const char *class_name(k8sretry_class c) {
  static const char *names[] = {"None", "Throttled", "Transient", "NetworkNotSent", "NetworkAmbiguous",
                                "AlreadyExists", "Conflict", "NotFound", "Gone", "Cancelled", "Fatal"};
  return (unsigned)c <= 10 ? names[c] : "?";
}

static const char *give_up_name(k8sretry_give_up_reason r) {
  static const char *names[] = {"None",        "Cancelled", "NonRetryable",    "NotIdempotent", "MaxRetries",
                                "CircuitOpen", "Deadline",  "BudgetExhausted", "OutcomeUnknown", "RetryAfterTooLong", "Nested"};
  const char *name = (unsigned)r <= 10 ? names[r] : "?";
  CHECK(strcmp(name, k8sretry_give_up_reason_name(r)) == 0, "give-up name %u: library says %s", (unsigned)r,
        k8sretry_give_up_reason_name(r));
  return name;
}

/* Compares the status and decision of a step with the vector's `expect`. */
static void check_step(const char *name, int i, k8sretry_status st, k8sretry_decision d, const cJSON *expect) {
  const char *want = cJSON_GetObjectItem(expect, "decision")->valuestring;
  if (strcmp(want, "error") == 0) {
    CHECK(st == K8SRETRY_STATUS_OUT_OF_ORDER || st == K8SRETRY_STATUS_CALL_FINISHED,
          "%s step %d: status %d, want a step-out-of-order status", name, i, st);
    return;
  }
  CHECK(st == K8SRETRY_STATUS_OK, "%s step %d: status %d", name, i, st);
  if (strcmp(want, "retry") == 0 || strcmp(want, "read_back") == 0 || strcmp(want, "wait") == 0) {
    k8sretry_action action = strcmp(want, "retry") == 0  ? K8SRETRY_ACTION_RETRY
                             : strcmp(want, "wait") == 0 ? K8SRETRY_ACTION_WAIT
                                                         : K8SRETRY_ACTION_READ_BACK;
    double delay = d.delay_nanos / 1e9, w = cJSON_GetObjectItem(expect, "delay")->valuedouble;
    CHECK(d.action == action && fabs(delay - w) <= 1e-6, "%s step %d: action %d delay %f want %s %f", name, i,
          d.action, delay, want, w);
  } else if (strcmp(want, "give_up") == 0) {
    const char *reason = cJSON_GetObjectItem(expect, "reason")->valuestring;
    CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && strcmp(give_up_name(d.give_up_reason), reason) == 0,
          "%s step %d: action %d reason %s want %s", name, i, d.action, give_up_name(d.give_up_reason), reason);
  } else if (strcmp(want, "recovered") == 0) {
    CHECK(d.action == K8SRETRY_ACTION_RECOVERED, "%s step %d: action %d want recovered", name, i, d.action);
  } else {
    CHECK(d.action == K8SRETRY_ACTION_DONE, "%s step %d: action %d want done", name, i, d.action);
  }
}

static uint32_t outcome_of(const char *name) {
  if (strcmp(name, "ours") == 0) return K8SRETRY_READ_OURS;
  if (strcmp(name, "not_ours") == 0) return K8SRETRY_READ_NOT_OURS;
  if (strcmp(name, "missing") == 0) return K8SRETRY_READ_MISSING;
  return K8SRETRY_READ_FAILED;
}

static k8sretry_failure *failure_from(const cJSON *o) {
  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  const cJSON *v;
  if ((v = cJSON_GetObjectItem(o, "status"))) CHECK_OK(k8sretry_failure_set_status(f, (uint16_t)v->valueint));
  if ((v = cJSON_GetObjectItem(o, "reason"))) CHECK_OK(k8sretry_failure_set_reason(f, S(v->valuestring)));
  if ((v = cJSON_GetObjectItem(o, "body"))) CHECK_OK(k8sretry_failure_set_status_body(f, S(v->valuestring)));
  if ((v = cJSON_GetObjectItem(o, "retry_after"))) CHECK_OK(k8sretry_failure_set_retry_after(f, S(v->valuestring)));
  if ((v = cJSON_GetObjectItem(o, "retry_after_seconds")))
    CHECK_OK(k8sretry_failure_set_retry_after_seconds(f, (int64_t)v->valuedouble));
  const cJSON *code;
  cJSON_ArrayForEach(code, cJSON_GetObjectItem(o, "codes")) CHECK_OK(k8sretry_failure_add_code(f, S(code->valuestring)));
  CHECK_OK(k8sretry_failure_set_timeout(f, cJSON_IsTrue(cJSON_GetObjectItem(o, "timeout"))));
  CHECK_OK(k8sretry_failure_set_cancelled(f, cJSON_IsTrue(cJSON_GetObjectItem(o, "cancelled"))));
  CHECK_OK(k8sretry_failure_set_user_retryable(f, cJSON_IsTrue(cJSON_GetObjectItem(o, "user_retryable"))));
  if ((v = cJSON_GetObjectItem(o, "verb"))) CHECK_OK(k8sretry_failure_set_verb(f, verb_of(v->valuestring)));
  return f;
}

/* The vector's exact policy text (policy_json), passed through unchanged. */
static k8sretry_policy *policy_from(const cJSON *vector, const k8sretry_clock *clock) {
  const cJSON *json = cJSON_GetObjectItem(vector, "policy_json");
  const char *text = json ? json->valuestring : "{}";
  char err[256] = {0};
  k8sretry_policy *p = NULL;
  k8sretry_status st = k8sretry_policy_from_json(S(text), clock, &p, err, sizeof err);
  CHECK(st == K8SRETRY_STATUS_OK, "policy %s: %s", text, err);
  return p;
}

static int run_classification(const char *dir) {
  cJSON *doc = load(dir, "classification.json");
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    k8sretry_policy *p = policy_from(c, NULL);
    k8sretry_failure *f = failure_from(cJSON_GetObjectItem(c, "failure"));
    k8sretry_class cls = K8SRETRY_CLASS_NONE;
    bool retryable = false;
    CHECK_OK(k8sretry_classify(p, f, &cls));
    CHECK_OK(k8sretry_is_retryable(p, f, &retryable));
    const char *want = cJSON_GetObjectItem(c, "class")->valuestring;
    CHECK(strcmp(class_name(cls), want) == 0, "%s: class %s, want %s", name, class_name(cls), want);
    CHECK(retryable == cJSON_IsTrue(cJSON_GetObjectItem(c, "retryable")), "%s: retryable", name);
    k8sretry_failure_free(f);
    k8sretry_policy_free(p);
    n++;
  }
  cJSON_Delete(doc);
  return n;
}

static int run_retry_after(const char *dir) {
  cJSON *doc = load(dir, "retry_after.json");
  double now = cJSON_GetObjectItem(doc, "now")->valuedouble;
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *value = cJSON_GetObjectItem(c, "value")->valuestring;
    const cJSON *want = cJSON_GetObjectItem(c, "seconds");
    bool found = true;
    double seconds = -1;
    CHECK_OK(k8sretry_parse_retry_after(S(value), now, &found, &seconds));
    if (cJSON_IsNull(want)) {
      CHECK(!found, "%s: want no hint, got %f", name, seconds);
    } else {
      double w = want->valuedouble;
      CHECK(found && fabs(seconds - w) <= 1e-9 * (w > 1 ? w : 1), "%s: got %f want %f", name, seconds, w);
    }
    n++;
  }
  cJSON_Delete(doc);
  return n;
}

#define MAX_CALLS 16

static void run_scenario(const cJSON *s) {
  const char *name = cJSON_GetObjectItem(s, "name")->valuestring;
  k8sretry_clock *clock = NULL;
  CHECK_OK(k8sretry_clock_new_manual(cJSON_GetObjectItem(s, "start_unix")->valuedouble, &clock));
  k8sretry_policy *p = policy_from(s, clock);
  const char *ids[MAX_CALLS];
  k8sretry_call *calls[MAX_CALLS];
  int ncalls = 0, i = 0;
  const cJSON *step;
  cJSON_ArrayForEach(step, cJSON_GetObjectItem(s, "steps")) {
    const char *op = cJSON_GetObjectItem(step, "op")->valuestring;
    const cJSON *id_item = cJSON_GetObjectItem(step, "call");
    const char *id = id_item ? id_item->valuestring : "a";
    k8sretry_call *call = NULL;
    for (int k = 0; k < ncalls; k++)
      if (strcmp(ids[k], id) == 0) call = calls[k];
    if (strcmp(op, "begin") == 0) {
      const char *fn = cJSON_GetObjectItem(step, "function")->valuestring;
      uint32_t verb = verb_of(cJSON_GetObjectItem(step, "verb")->valuestring);
      uint32_t rec = recovery_of(cJSON_GetObjectItem(step, "recovery")->valuestring);
      const cJSON *reader = cJSON_GetObjectItem(step, "reader");
      const cJSON *nested = cJSON_GetObjectItem(step, "nested");
      k8sretry_call_options options = {
          .verb = verb,
          .recovery = rec,
          .has_reader = reader ? cJSON_IsTrue(reader) : true,
          .nested = nested ? cJSON_IsTrue(nested) : false,
      };
      k8sretry_call *begun = NULL;
      k8sretry_status st = k8sretry_call_begin_with(p, S(fn), &options, &begun);
      CHECK(st == K8SRETRY_STATUS_OK && ncalls < MAX_CALLS, "%s: begin: status %d", name, st);
      if (st == K8SRETRY_STATUS_OK && ncalls < MAX_CALLS) {
        calls[ncalls] = begun;
        ids[ncalls++] = id;
      } else {
        k8sretry_call_free(begun);
      }
    } else if (strcmp(op, "fail") == 0) {
      k8sretry_failure *f = failure_from(cJSON_GetObjectItem(step, "failure"));
      k8sretry_decision d = {0};
      k8sretry_status st = k8sretry_call_on_failure(call, f, &d);
      check_step(name, i, st, d, cJSON_GetObjectItem(step, "expect"));
      k8sretry_failure_free(f);
    } else if (strcmp(op, "read_back") == 0) {
      const cJSON *failure = cJSON_GetObjectItem(step, "failure");
      k8sretry_failure *f = failure ? failure_from(failure) : NULL;
      k8sretry_decision d = {0};
      uint32_t outcome = outcome_of(cJSON_GetObjectItem(step, "outcome")->valuestring);
      k8sretry_status st = k8sretry_call_on_read_back(call, outcome, f, &d);
      check_step(name, i, st, d, cJSON_GetObjectItem(step, "expect"));
      k8sretry_failure_free(f);
    } else if (strcmp(op, "cancel") == 0) {
      k8sretry_decision d = {0};
      k8sretry_status st = k8sretry_call_on_cancelled(call, &d);
      check_step(name, i, st, d, cJSON_GetObjectItem(step, "expect"));
    } else if (strcmp(op, "resume") == 0) {
      k8sretry_decision d = {0};
      k8sretry_status st = k8sretry_call_resume(call, &d);
      check_step(name, i, st, d, cJSON_GetObjectItem(step, "expect"));
    } else if (strcmp(op, "succeed") == 0) {
      const cJSON *attempts = cJSON_GetObjectItem(step, "attempts");
      if (attempts) {
        uint32_t n = 0;
        CHECK_OK(k8sretry_call_attempts(call, &n));
        CHECK(n == (uint32_t)attempts->valueint, "%s step %d: attempts %u", name, i, n);
      }
      CHECK_OK(k8sretry_call_on_success(call));
    } else if (strcmp(op, "advance") == 0) {
      CHECK_OK(k8sretry_clock_advance(clock, cJSON_GetObjectItem(step, "seconds")->valuedouble));
    } else {
      CHECK(0, "%s: unknown op %s", name, op);
    }
    i++;
  }
  for (int k = 0; k < ncalls; k++) k8sretry_call_free(calls[k]);
  k8sretry_policy_free(p);
  k8sretry_clock_free(clock);
}

/* The events of the scenario being run, as the event callback saw them. */
#define MAX_EVENTS 32
typedef struct {
  char function[64];
  const char *name;
  uint32_t attempt;
  k8sretry_level level;
  k8sretry_give_up_reason give_up;
} seen_event;
static seen_event seen[MAX_EVENTS];
static int nseen = 0;

static void record_event(void *userdata, const k8sretry_event *e) {
  (void)userdata;
  if (nseen >= MAX_EVENTS) {
    nseen++;
    return;
  }
  seen_event *out = &seen[nseen++];
  size_t n = e->function.len < sizeof out->function - 1 ? e->function.len : sizeof out->function - 1;
  memcpy(out->function, e->function.data, n);
  out->function[n] = 0;
  out->name = e->name; /* static */
  out->attempt = e->attempt;
  out->level = e->level;
  out->give_up = e->give_up_reason;
}

/* events.json: the scenario's steps, then its events with their level. */
static int run_events(const char *dir) {
  cJSON *doc = load(dir, "events.json");
  int n = 0;
  const cJSON *s;
  CHECK_OK(k8sretry_set_event_callback(record_event, NULL));
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "scenarios")) {
    const char *name = cJSON_GetObjectItem(s, "name")->valuestring;
    nseen = 0;
    run_scenario(s);
    const cJSON *want = cJSON_GetObjectItem(s, "events");
    CHECK(cJSON_GetArraySize(want) == nseen, "%s: %d events, want %d", name, nseen, cJSON_GetArraySize(want));
    int k = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
      if (k >= nseen || k >= MAX_EVENTS) break;
      const seen_event *e = &seen[k++];
      const cJSON *give_up = cJSON_GetObjectItem(w, "give_up");
      const char *want_give_up = cJSON_IsString(give_up) ? give_up->valuestring : "None";
      CHECK(strcmp(e->function, cJSON_GetObjectItem(w, "function")->valuestring) == 0, "%s: function %s", name,
            e->function);
      CHECK(strcmp(e->name, cJSON_GetObjectItem(w, "event")->valuestring) == 0, "%s: event %s", name, e->name);
      CHECK(e->attempt == (uint32_t)cJSON_GetObjectItem(w, "attempt")->valueint, "%s: attempt %u", name, e->attempt);
      CHECK(strcmp(k8sretry_level_name(e->level), cJSON_GetObjectItem(w, "level")->valuestring) == 0,
            "%s: %s at level %s", name, e->name, k8sretry_level_name(e->level));
      CHECK(strcmp(k8sretry_give_up_reason_name(e->give_up), want_give_up) == 0, "%s: give-up %s", name,
            k8sretry_give_up_reason_name(e->give_up));
    }
    n++;
  }
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
  cJSON_Delete(doc);
  return n;
}

static bool flag(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItem(o, key)); }

/* plans.json: k8sretry_plan_choose, with patch types by name or by Content-Type. */
static int run_plans(const char *dir) {
  static const char *patches[] = {"", "merge", "strategic", "apply", "json"};
  static const char *stamps[] = {"none", "annotation", "annotation_and_label"};
  cJSON *doc = load(dir, "plans.json");
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *r = cJSON_GetObjectItem(c, "request");
    k8sretry_request req = {0};
    req.verb = verb_of(cJSON_GetObjectItem(r, "verb")->valuestring);
    const cJSON *resource = cJSON_GetObjectItem(r, "resource");
    if (resource) {
      req.resource = resource->valuestring;
      req.resource_len = strlen(resource->valuestring);
    }
    req.named = flag(r, "named");
    req.generate_name = flag(r, "generate_name");
    req.resource_version = flag(r, "resource_version");
    req.object_body = flag(r, "object_body");
    req.adopt_existing = flag(r, "adopt_existing");
    req.can_get = flag(r, "can_get");
    req.can_list = flag(r, "can_list");
    req.missing_ok = flag(r, "missing_ok");
    const cJSON *patch = cJSON_GetObjectItem(r, "patch");
    const cJSON *content_type = cJSON_GetObjectItem(r, "content_type");
    if (patch) {
      for (uint32_t k = 1; k < 5; k++)
        if (strcmp(patch->valuestring, patches[k]) == 0) req.patch_type = k;
      CHECK(req.patch_type != 0, "%s: patch %s", name, patch->valuestring);
    } else if (content_type) {
      k8sretry_patch_type pt = K8SRETRY_PATCH_NONE;
      CHECK_OK(k8sretry_patch_type_of(S(content_type->valuestring), &pt));
      req.patch_type = pt;
    }
    k8sretry_plan plan = {0};
    CHECK_OK(k8sretry_plan_choose(&req, &plan));
    CHECK(plan.recovery == recovery_of(cJSON_GetObjectItem(c, "recovery")->valuestring), "%s: recovery %u", name,
          plan.recovery);
    CHECK(plan.stamp < 3 && strcmp(stamps[plan.stamp], cJSON_GetObjectItem(c, "stamp")->valuestring) == 0,
          "%s: stamp %u", name, plan.stamp);
    n++;
  }
  cJSON_Delete(doc);
  return n;
}

static int run_scenarios(const char *dir, const char *file) {
  cJSON *doc = load(dir, file);
  int n = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "scenarios")) {
    run_scenario(s);
    n++;
  }
  cJSON_Delete(doc);
  return n;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/vectors";
  int total = run_classification(dir) + run_retry_after(dir) + run_scenarios(dir, "delays.json") +
              run_scenarios(dir, "decisions.json") + run_events(dir) + run_plans(dir);
  CHECK(total >= 150, "only %d vectors", total);
  printf("ran %d vectors through the C API\n", total);
  return harness_finish("vectors");
}
