/* Every entry point fed NULLs, garbage JSON, invalid UTF-8 and out-of-range values:
 * a status comes back, nothing crashes, out-params stay untouched on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "k8sretry.h"

#define S(x) (x), strlen(x)
#define SENTINEL ((void *)0x1234)

static const char BAD_UTF8[] = {'\xff', '\xfe', 'a', 0};

static void statuses_have_messages(void) {
  for (uint32_t s = 0; s <= 8; s++) {
    const char *m = k8sretry_status_message(s);
    CHECK(m && strlen(m) > 0 && strcmp(m, "unknown status code") != 0, "status %u has no message", s);
  }
  CHECK(strcmp(k8sretry_status_message(12345), "unknown status code") == 0, "unknown code");
  CHECK(strstr(k8sretry_status_message(K8SRETRY_STATUS_UNKNOWN_PRESET), "runner_hooks, conflict") != NULL,
        "the unknown-preset message names every preset: %s", k8sretry_status_message(K8SRETRY_STATUS_UNKNOWN_PRESET));
  CHECK(strcmp(k8sretry_version(), K8SRETRY_VERSION_STRING) == 0, "header %s, library %s", K8SRETRY_VERSION_STRING,
        k8sretry_version());
}

static void policies(void) {
  k8sretry_policy *p = SENTINEL;
  CHECK(k8sretry_policy_new_preset(NULL, 3, &p) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL name");
  CHECK(k8sretry_policy_new_preset(S("default"), NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK(k8sretry_policy_new_preset(S("fast"), &p) == K8SRETRY_STATUS_UNKNOWN_PRESET, "unknown preset");
  CHECK(k8sretry_policy_new_preset(BAD_UTF8, 3, &p) == K8SRETRY_STATUS_INVALID_UTF8, "bad utf8 name");
  CHECK(p == SENTINEL, "out-param written on failure");

  const char *garbage[] = {"",      "{",        "[]",    "null",  "{\"max_retries\": -1}", "{\"max_retrys\": 1}",
                           "{\"jitter\": \"wild\"}", "{\"max_delay\": 1e400}", "{\"budget\": {\"ratio\": -2}}",
                           "{\"preset\": \"nope\"}", "\"default\"", "{\"seed\": 1.5}"};
  for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
    char err[128];
    memset(err, 'x', sizeof err);
    k8sretry_status st = k8sretry_policy_from_json(S(garbage[i]), NULL, &p, err, sizeof err);
    CHECK(st == K8SRETRY_STATUS_INVALID_POLICY || st == K8SRETRY_STATUS_UNKNOWN_PRESET, "%s -> %d", garbage[i], st);
    CHECK(memchr(err, 0, sizeof err) != NULL && strlen(err) > 0, "%s: message not written", garbage[i]);
    CHECK(p == SENTINEL, "out-param written on failure");
  }
  char tiny[4];
  CHECK(k8sretry_policy_from_json(S("{\"max_retrys\": 1}"), NULL, &p, tiny, sizeof tiny) ==
            K8SRETRY_STATUS_INVALID_POLICY,
        "tiny buffer");
  CHECK(strlen(tiny) == 3, "message truncated and terminated");
  char err[256];
  k8sretry_policy_from_json(S("{\"max_retrys\": 1}"), NULL, &p, err, sizeof err);
  CHECK(strstr(err, "max_retrys") != NULL, "message names the key: %s", err);
  CHECK(k8sretry_policy_from_json(S("{\"max_retrys\": 1}"), NULL, &p, NULL, 0) == K8SRETRY_STATUS_INVALID_POLICY,
        "NULL err buffer");
  /* A message cut to the buffer never ends in half a UTF-8 character: "clé" is c l 0xC3 0xA9, and a
   * buffer that ends between 0xC3 and 0xA9 gets the message up to the "cl". */
  const char *accented = "{\"cl\xc3\xa9\": 1}";
  k8sretry_policy_from_json(S(accented), NULL, &p, err, sizeof err);
  const char *e_acute = strstr(err, "\xc3\xa9");
  CHECK(e_acute != NULL, "the message names the key: %s", err);
  if (e_acute != NULL) {
    size_t at = (size_t)(e_acute - err);
    char cut[256];
    memset(cut, 'x', sizeof cut);
    CHECK(k8sretry_policy_from_json(S(accented), NULL, &p, cut, at + 2) == K8SRETRY_STATUS_INVALID_POLICY,
          "accented key");
    CHECK(strlen(cut) == at && strncmp(cut, err, at) == 0, "cut before the character: %zu bytes, not %zu", strlen(cut),
          at);
    memset(cut, 'x', sizeof cut);
    k8sretry_policy_from_json(S(accented), NULL, &p, cut, at + 3);
    CHECK(strlen(cut) == at + 2, "the whole character once it fits: %zu", strlen(cut));
  }
  CHECK(k8sretry_policy_from_json(BAD_UTF8, 3, NULL, &p, NULL, 0) == K8SRETRY_STATUS_INVALID_UTF8, "bad utf8 json");
  CHECK(k8sretry_policy_from_json(NULL, 5, NULL, &p, NULL, 0) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL json");
  uint32_t n = 77;
  CHECK(k8sretry_policy_max_retries(NULL, &n) == K8SRETRY_STATUS_NULL_ARGUMENT && n == 77, "NULL policy");
  k8sretry_policy_free(NULL);
  k8sretry_clock_free(NULL);

  k8sretry_clock *clock = SENTINEL;
  CHECK(k8sretry_clock_new_manual(1.0 / 0.0, &clock) == K8SRETRY_STATUS_INVALID_ARGUMENT, "infinite start");
  CHECK(clock == SENTINEL, "clock written on failure");
  CHECK_OK(k8sretry_clock_new_manual(0, &clock));
  CHECK(k8sretry_clock_advance(clock, -1) == K8SRETRY_STATUS_INVALID_ARGUMENT, "negative advance");
  CHECK(k8sretry_clock_advance(NULL, 1) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL clock");
  k8sretry_clock_free(clock);
}

static void failures(void) {
  k8sretry_failure *f = NULL;
  CHECK(k8sretry_failure_new(NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK_OK(k8sretry_failure_new(&f));
  CHECK(k8sretry_failure_set_status(NULL, 503) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL failure");
  /* Text from outside with invalid UTF-8 is read lossily (one rule in every language). */
  CHECK_OK(k8sretry_failure_set_reason(f, BAD_UTF8, 3));
  CHECK(k8sretry_failure_set_reason(f, NULL, 4) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL reason");
  CHECK(k8sretry_failure_set_reason(f, "x", (size_t)-1) == K8SRETRY_STATUS_INVALID_ARGUMENT, "length near SIZE_MAX");
  CHECK(k8sretry_failure_set_status_body(f, "x", (size_t)PTRDIFF_MAX + 1) == K8SRETRY_STATUS_INVALID_ARGUMENT,
        "length above PTRDIFF_MAX");
  CHECK_OK(k8sretry_failure_set_status_body(f, BAD_UTF8, 3));
  CHECK_OK(k8sretry_failure_set_retry_after(f, BAD_UTF8, 3));
  CHECK_OK(k8sretry_failure_add_code(f, BAD_UTF8, 3));
  CHECK_OK(k8sretry_failure_set_error(f, S("E"), BAD_UTF8, 3));
  CHECK(k8sretry_failure_set_verb(f, 99) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad verb");
  CHECK_OK(k8sretry_failure_set_status_body(f, S("{\"reason\": [1, {\"x\": null}], \"code\": -5")));
  CHECK_OK(k8sretry_failure_set_status_body(f, S("\x01\x02 not json at all")));
  CHECK_OK(k8sretry_failure_add_errno(f, -1));
  CHECK_OK(k8sretry_failure_add_errno(f, 2147483647));
  for (int i = 0; i < 100; i++) CHECK_OK(k8sretry_failure_add_code(f, S("ECONNRESET")));
  CHECK_OK(k8sretry_failure_set_retry_after(f, S("Sun, 99 Zzz 99999999999 99:99:99 +99999")));

  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_new_preset(S("default"), &p));
  k8sretry_class cls = K8SRETRY_CLASS_NONE;
  CHECK_OK(k8sretry_classify(p, f, &cls));
  CHECK(cls == K8SRETRY_CLASS_NETWORK_AMBIGUOUS, "class %d", cls);
  CHECK(k8sretry_classify(NULL, f, &cls) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL policy");
  CHECK(k8sretry_classify(p, NULL, &cls) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL failure");
  CHECK(k8sretry_classify(p, f, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  bool b = true;
  CHECK(k8sretry_is_retryable(p, NULL, &b) == K8SRETRY_STATUS_NULL_ARGUMENT && b, "NULL failure");

  uint64_t nanos = 0;
  CHECK_OK(k8sretry_failure_reset(f));
  CHECK_OK(k8sretry_failure_set_status(f, 429));
  CHECK_OK(k8sretry_failure_set_retry_after(f, S("7")));
  CHECK_OK(k8sretry_retry_delay(p, f, 0, &nanos));
  CHECK(nanos == 7000000000ULL, "delay %llu", (unsigned long long)nanos);
  CHECK(k8sretry_retry_delay(p, f, 0, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");

  bool found = true;
  double seconds = -5;
  CHECK(k8sretry_parse_retry_after(S("5"), 0, NULL, &seconds) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL found");
  CHECK(found && seconds == -5, "out-params untouched");
  CHECK_OK(k8sretry_parse_retry_after(BAD_UTF8, 3, 0, &found, &seconds));
  CHECK(!found, "bad UTF-8 in a header is no hint");
  CHECK_OK(k8sretry_parse_retry_after(S("garbage"), 0.0 / 0.0, &found, &seconds));
  CHECK(!found && seconds == 0, "garbage is no hint");

  k8sretry_failure_free(f);
  k8sretry_failure_free(NULL);
  k8sretry_policy_free(p);
}

static int32_t never_called(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)attempt;
  (void)failure;
  (*(int *)userdata)++;
  return 0;
}

/* The read-back step: NULLs, bad outcomes, and steps the call did not ask for. */
static void read_backs(k8sretry_policy *p) {
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin(p, S("abuse_read_back"), K8SRETRY_VERB_POST, K8SRETRY_RECOVERY_CREATE, &call));
  k8sretry_failure *reset = NULL, *exists = NULL;
  CHECK_OK(k8sretry_failure_new(&reset));
  CHECK_OK(k8sretry_failure_add_code(reset, S("ECONNRESET")));
  CHECK_OK(k8sretry_failure_new(&exists));
  CHECK_OK(k8sretry_failure_set_status(exists, 409));
  CHECK_OK(k8sretry_failure_set_reason(exists, S("AlreadyExists")));
  k8sretry_decision d = {.action = K8SRETRY_ACTION_DONE};
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_OUT_OF_ORDER,
        "read-back nobody asked for");
  CHECK(d.action == K8SRETRY_ACTION_DONE, "decision untouched");
  CHECK_OK(k8sretry_call_on_failure(call, reset, &d));
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "reset on a stamped create is resent");
  CHECK_OK(k8sretry_call_on_failure(call, exists, &d));
  CHECK(d.action == K8SRETRY_ACTION_READ_BACK, "AlreadyExists after a reset is read back");
  CHECK(k8sretry_call_on_failure(call, reset, &d) == K8SRETRY_STATUS_OUT_OF_ORDER, "failure while reading");
  CHECK(k8sretry_call_on_success(call) == K8SRETRY_STATUS_OUT_OF_ORDER, "success while reading");
  CHECK(k8sretry_call_on_read_back(NULL, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL call");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_FAILED, NULL, &d) == K8SRETRY_STATUS_NULL_ARGUMENT,
        "FAILED without its failure");
  CHECK(k8sretry_call_on_read_back(call, 0, NULL, &d) == K8SRETRY_STATUS_INVALID_ARGUMENT, "outcome 0");
  CHECK(k8sretry_call_on_read_back(call, 99, NULL, &d) == K8SRETRY_STATUS_INVALID_ARGUMENT, "outcome 99");
  CHECK_OK(k8sretry_call_on_read_back(call, K8SRETRY_READ_FAILED, reset, &d));
  CHECK(d.action == K8SRETRY_ACTION_READ_BACK && d.delay_nanos > 0, "a failed read is read again later");
  CHECK_OK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d));
  CHECK(d.action == K8SRETRY_ACTION_RECOVERED, "ours is recovered");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_CALL_FINISHED, "twice");
  k8sretry_call_free(call);

  k8sretry_request req = {.verb = K8SRETRY_VERB_POST, .named = true, .can_get = true};
  k8sretry_plan plan = {.recovery = 77, .stamp = 77};
  CHECK(k8sretry_plan_choose(NULL, &plan) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL request");
  CHECK(k8sretry_plan_choose(&req, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL plan out");
  req.resource_len = 3; /* NULL resource with a length */
  CHECK(k8sretry_plan_choose(&req, &plan) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL resource, length 3");
  req.resource = BAD_UTF8;
  req.resource_len = 3;
  CHECK(k8sretry_plan_choose(&req, &plan) == K8SRETRY_STATUS_INVALID_UTF8, "bad resource");
  req.resource = NULL;
  req.resource_len = 0;
  req.patch_type = 9;
  CHECK(k8sretry_plan_choose(&req, &plan) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad patch type");
  req.patch_type = 0;
  req.verb = 42;
  CHECK(k8sretry_plan_choose(&req, &plan) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad verb");
  CHECK(plan.recovery == 77 && plan.stamp == 77, "plan written on failure");
  req.verb = K8SRETRY_VERB_POST;
  CHECK_OK(k8sretry_plan_choose(&req, &plan));
  CHECK(plan.recovery == K8SRETRY_RECOVERY_CREATE && plan.stamp == K8SRETRY_STAMP_ANNOTATION, "named create");
  req.resource = "createSelfSubjectAccessReview";
  req.resource_len = strlen(req.resource);
  CHECK_OK(k8sretry_plan_choose(&req, &plan));
  CHECK(plan.recovery == K8SRETRY_RECOVERY_IDEMPOTENT && plan.stamp == K8SRETRY_STAMP_NONE, "review unstamped");
  CHECK(strcmp(k8sretry_give_up_reason_name(K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN), "OutcomeUnknown") == 0, "name");
  CHECK(strcmp(k8sretry_give_up_reason_name(12345), "Unknown") == 0, "name past the last");
  /* A zero-initialised request never adopts: a named create is stamped and checked. */
  k8sretry_request zeroed = {0};
  zeroed.verb = K8SRETRY_VERB_POST;
  zeroed.named = true;
  zeroed.can_get = true;
  CHECK_OK(k8sretry_plan_choose(&zeroed, &plan));
  CHECK(plan.recovery == K8SRETRY_RECOVERY_CREATE && plan.stamp == K8SRETRY_STAMP_ANNOTATION, "zeroed create adopts");
  zeroed.adopt_existing = true;
  CHECK_OK(k8sretry_plan_choose(&zeroed, &plan));
  CHECK(plan.recovery == K8SRETRY_RECOVERY_CREATE_ADOPT && plan.stamp == K8SRETRY_STAMP_NONE, "opt-in adopt");
  /* The core's names. */
  CHECK(strcmp(k8sretry_class_name(K8SRETRY_CLASS_NETWORK_AMBIGUOUS), "NetworkAmbiguous") == 0, "class name");
  CHECK(strcmp(k8sretry_class_name(K8SRETRY_CLASS_NONE), "None") == 0, "class none");
  CHECK(strcmp(k8sretry_class_name(999), "Unknown") == 0, "class past the last");
  size_t presets = 0;
  while (k8sretry_preset_name(presets)) presets++;
  CHECK(presets >= 7 && strcmp(k8sretry_preset_name(0), "default") == 0, "presets: %zu", presets);
  k8sretry_patch_type pt = K8SRETRY_PATCH_JSON;
  const char *ct = "application/apply-patch+json; charset=utf-8";
  CHECK_OK(k8sretry_patch_type_of(ct, strlen(ct), &pt));
  CHECK(pt == K8SRETRY_PATCH_APPLY, "apply json");
  CHECK_OK(k8sretry_patch_type_of(NULL, 0, &pt));
  CHECK(pt == K8SRETRY_PATCH_NONE, "no content type");
  CHECK(k8sretry_patch_type_of(ct, strlen(ct), NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  k8sretry_failure_free(reset);
  k8sretry_failure_free(exists);
}

/* A 429 whose Status body has a non-UTF-8 byte in its message and retryAfterSeconds 7: the body
 * is read (lossily) and the hint honoured, as in every binding. */
static void lossy_status_body(void) {
  const char *json = "{\"jitter\": \"none\", \"budget\": null, \"retry_after_spread\": 0}";
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &p, NULL, 0));
  const char body[] = "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\","
                      "\"message\":\"bad \xff byte\",\"details\":{\"retryAfterSeconds\":7}}";
  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  CHECK_OK(k8sretry_failure_set_status(f, 429));
  CHECK_OK(k8sretry_failure_set_status_body(f, body, strlen(body)));
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin(p, S("lossy"), K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &call));
  k8sretry_decision d = {0};
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  CHECK(d.action == K8SRETRY_ACTION_RETRY && d.delay_nanos == 7000000000ull, "retry after 7 s: action %d, %llu ns",
        d.action, (unsigned long long)d.delay_nanos);
  /* Past the retries, the give-up says when to try the call again: max(the hint of 7 s, the next
   * backoff 1 * 2^3 = 8 s). */
  for (int i = 0; i < 3; i++) CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  bool found = false;
  uint64_t after = 0;
  CHECK_OK(k8sretry_call_retry_after(call, &found, &after));
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && found && after == 8000000000ull, "requeue after 8 s: %llu",
        (unsigned long long)after);
  k8sretry_call_free(call);
  k8sretry_failure_free(f);
  k8sretry_policy_free(p);
}

/* The error text of events (DESIGN §7): read lossily (U+FFFD for a bad byte, never
 * K8SRETRY_STATUS_INVALID_UTF8: the bytes are a client's or a server's), first line only, no
 * bodies, no credentials, at most 256 bytes. */
static char event_error[512];
static size_t event_error_len;
static int events_seen;

static void keep_error(void *userdata, const k8sretry_event *event) {
  (void)userdata;
  events_seen++;
  event_error_len = event->error.len < sizeof event_error ? event->error.len : sizeof event_error - 1;
  if (event_error_len > 0) memcpy(event_error, event->error.data, event_error_len);
  event_error[event_error_len] = 0;
}

static void event_error_text(void) {
  const char *json = "{\"jitter\": \"none\", \"budget\": null, \"max_retries\": 1}";
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &p, NULL, 0));
  const char *token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJlLW5vdC1yZWFs";
  const char *secret = "c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy";
  char message[1024];
  snprintf(message, sizeof message,
           "Put \"https://127.0.0.1:6443/api/v1/namespaces/default/secrets/db\": bad \xff" " byte; "
           "Authorization: Bearer %s; data.password=%s; request body: "
           "{\"kind\":\"Secret\",\"data\":{\"password\":\"%s\"},\"stringData\":{\"note\":\"request-body-canary\"}}\n"
           "response body: request-body-canary",
           token, secret, secret);
  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  CHECK_OK(k8sretry_failure_set_status(f, 503));
  CHECK_OK(k8sretry_failure_set_error(f, S("StatusError"), S(message)));
  CHECK_OK(k8sretry_set_event_callback(keep_error, NULL));
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin(p, S("replace_secret"), K8SRETRY_VERB_PUT, K8SRETRY_RECOVERY_NONE, &call));
  k8sretry_decision d = {0};
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  CHECK(events_seen == 1 && d.action == K8SRETRY_ACTION_RETRY, "one retrying event: %d", events_seen);
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
  CHECK(event_error_len > 0 && event_error_len <= 256, "error of %zu bytes", event_error_len);
  CHECK(strstr(event_error, "bad \xef\xbf\xbd byte") != NULL, "the bad byte read as U+FFFD: %s", event_error);
  CHECK(strstr(event_error, "secrets/db") && strstr(event_error, "Bearer [redacted]"), "what is left: %s",
        event_error);
  CHECK(!strstr(event_error, token) && !strstr(event_error, secret) && !strstr(event_error, "canary") &&
            !strstr(event_error, "\"kind\""),
        "no token, Secret data or body: %s", event_error);
  k8sretry_call_free(call);
  k8sretry_failure_free(f);
  k8sretry_policy_free(p);
}

/* A budget that refuses every retry after the first, a deadline: the refused retry is a WAIT,
 * then k8sretry_call_resume; steps out of order are refused and leave the decision untouched. */
static void waits(void) {
  const char *json = "{\"jitter\": \"none\", \"deadline\": 6, \"budget\": {\"ratio\": 0, \"burst\": 0, "
                     "\"min_per_second\": 0, \"min_per_episode\": 1}}";
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &p, NULL, 0));
  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  CHECK_OK(k8sretry_failure_set_status(f, 503));
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin(p, S("abuse_wait"), K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &call));
  k8sretry_decision d = {.action = K8SRETRY_ACTION_DONE};
  CHECK(k8sretry_call_resume(call, &d) == K8SRETRY_STATUS_OUT_OF_ORDER, "resume before any wait");
  CHECK(d.action == K8SRETRY_ACTION_DONE, "decision untouched");
  CHECK(k8sretry_call_resume(NULL, &d) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL call");
  CHECK(k8sretry_call_resume(call, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  CHECK(d.action == K8SRETRY_ACTION_RETRY && d.delay_nanos == 1000000000ull, "the episode's one retry");
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  CHECK(d.action == K8SRETRY_ACTION_WAIT && d.delay_nanos == 2000000000ull, "refused: wait 2 s: %d %llu", d.action,
        (unsigned long long)d.delay_nanos);
  CHECK(k8sretry_call_on_failure(call, f, &d) == K8SRETRY_STATUS_OUT_OF_ORDER, "a failure while waiting");
  CHECK(k8sretry_call_on_success(call) == K8SRETRY_STATUS_OUT_OF_ORDER, "a success while waiting");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_OUT_OF_ORDER,
        "a read-back while waiting");
  CHECK_OK(k8sretry_call_resume(call, &d));
  CHECK(d.action == K8SRETRY_ACTION_WAIT && d.delay_nanos == 4000000000ull, "refused again: wait 4 s");
  CHECK_OK(k8sretry_call_resume(call, &d));
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED,
        "the next wait (8 s) would pass the 6 s deadline: %d %d", d.action, d.give_up_reason);
  CHECK(strcmp(k8sretry_give_up_reason_name(K8SRETRY_GIVE_UP_RETRY_AFTER_TOO_LONG), "RetryAfterTooLong") == 0,
        "the new reason's name");
  k8sretry_call_free(call);
  k8sretry_failure_free(f);
  k8sretry_policy_free(p);
}

static void calls(void) {
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_new_preset(S("default"), &p));
  k8sretry_call *call = SENTINEL;
  CHECK(k8sretry_call_begin(NULL, S("f"), 1, 0, &call) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL policy");
  CHECK(k8sretry_call_begin(p, S("f"), 42, 0, &call) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad verb");
  CHECK(k8sretry_call_begin(p, S("f"), 1, 42, &call) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad recovery");
  CHECK(k8sretry_call_begin(p, BAD_UTF8, 3, 1, 0, &call) == K8SRETRY_STATUS_INVALID_UTF8, "bad name");
  CHECK(call == SENTINEL, "call written on failure");
  CHECK_OK(k8sretry_call_begin(p, S("abuse_call"), K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &call));

  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  CHECK_OK(k8sretry_failure_set_status(f, 404));
  k8sretry_decision d = {.action = K8SRETRY_ACTION_RETRY};
  CHECK(k8sretry_call_on_failure(call, NULL, &d) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL failure");
  CHECK(k8sretry_call_on_failure(NULL, f, &d) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL call");
  CHECK(k8sretry_call_on_failure(call, f, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "decision untouched");
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NON_RETRYABLE, "404 gives up");
  CHECK(k8sretry_call_on_failure(call, f, &d) == K8SRETRY_STATUS_CALL_FINISHED, "finished call");
  CHECK(k8sretry_call_on_success(call) == K8SRETRY_STATUS_CALL_FINISHED, "finished call success");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_CALL_FINISHED,
        "read-back after the end");
  CHECK(k8sretry_call_resume(call, &d) == K8SRETRY_STATUS_CALL_FINISHED, "resume after the end");
  CHECK(k8sretry_call_attempts(call, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL attempts out");
  bool found = true;
  uint64_t after = 7;
  CHECK(k8sretry_call_retry_after(NULL, &found, &after) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL call");
  CHECK(k8sretry_call_retry_after(call, NULL, &after) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL found");
  CHECK(k8sretry_call_retry_after(call, &found, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL nanos");
  CHECK_OK(k8sretry_call_retry_after(call, &found, &after));
  CHECK(!found && after == 0, "no retry-after after a 404");
  k8sretry_call_free(call);
  k8sretry_call_free(NULL);
  read_backs(p);

  int count = 0;
  k8sretry_run_result r = {.attempts = 99};
  CHECK(k8sretry_run(p, S("f"), 0, NULL, &count, &r) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL callback");
  CHECK(k8sretry_run(p, S("f"), 0, never_called, &count, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL result");
  CHECK(k8sretry_run(p, S("f"), 9, never_called, &count, &r) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad verb");
  CHECK(count == 0 && r.attempts == 99, "nothing ran");

  char *text = NULL;
  CHECK(k8sretry_metrics_text(NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL metrics out");
  CHECK_OK(k8sretry_call_begin(p, "nul\0name", 8, 0, 0, &call));
  CHECK_OK(k8sretry_call_on_success(call));
  k8sretry_call_free(call);
  CHECK_OK(k8sretry_metrics_text(&text));
  /* A first attempt's 404 is an answer no retry changes: outcome "failed", not a give-up. */
  CHECK(text && strstr(text, "k8sretry_calls_total{function=\"abuse_call\",outcome=\"failed\"} 1"), "metrics");
  CHECK(text && !strstr(text, "k8sretry_giveups_total{function=\"abuse_call\""), "no give-up counted");
  CHECK(text && strstr(text, "nul\\0name"), "NUL in a name is escaped");
  k8sretry_string_free(text);
  k8sretry_string_free(NULL);
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
  k8sretry_failure_free(f);
  k8sretry_policy_free(p);
}

/* The first decision of a new call of `verb` (no recovery) on failure `f`. */
static k8sretry_decision first_decision(const k8sretry_policy *p, uint32_t verb, const k8sretry_failure *f) {
  k8sretry_call *call = NULL;
  k8sretry_decision d = {.action = 0};
  CHECK_OK(k8sretry_call_begin(p, S("abuse_flags"), verb, K8SRETRY_RECOVERY_NONE, &call));
  CHECK_OK(k8sretry_call_on_failure(call, f, &d));
  k8sretry_call_free(call);
  return d;
}

/* k8sretry_call_begin_with: a zeroed options struct never asks for a read-back; a cancel during a
 * read-back ends the call with one event; a k8sretry_run inside an attempt makes one attempt. */
static int run_inner_calls;

static int inner_attempt(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)userdata;
  (void)attempt;
  run_inner_calls++;
  k8sretry_failure_set_status(failure, 503);
  return 1;
}

static int outer_attempt(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  (void)attempt;
  k8sretry_run_result inner = {0};
  CHECK_OK(k8sretry_run((const k8sretry_policy *)userdata, S("abuse_inner"), K8SRETRY_VERB_GET, inner_attempt,
                        NULL, &inner));
  CHECK(!inner.succeeded && inner.attempts == 1 && inner.give_up_reason == K8SRETRY_GIVE_UP_NESTED,
        "nested run: %u attempts, reason %d", inner.attempts, inner.give_up_reason);
  k8sretry_failure_set_status(failure, 503);
  return 1;
}

static void begin_with(void) {
  const char *json = "{\"jitter\": \"none\", \"budget\": null, \"max_retries\": 3, \"initial_delay\": 0.001}";
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &p, NULL, 0));
  k8sretry_failure *reset = NULL, *exists = NULL;
  CHECK_OK(k8sretry_failure_new(&reset));
  CHECK_OK(k8sretry_failure_add_code(reset, S("ECONNRESET")));
  CHECK_OK(k8sretry_failure_new(&exists));
  CHECK_OK(k8sretry_failure_set_status(exists, 409));
  CHECK_OK(k8sretry_failure_set_reason(exists, S("AlreadyExists")));
  k8sretry_decision d = {0};

  /* Zeroed options: no reader. A named create's AlreadyExists after a reset is an unknown outcome. */
  k8sretry_call_options zero = {0};
  zero.verb = K8SRETRY_VERB_POST;
  zero.recovery = K8SRETRY_RECOVERY_CREATE;
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin_with(p, S("abuse_no_reader"), &zero, &call));
  CHECK_OK(k8sretry_call_on_failure(call, reset, &d));
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "reset: retry %d", d.action);
  CHECK_OK(k8sretry_call_on_failure(call, exists, &d));
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN,
        "no reader: %d %d", d.action, d.give_up_reason);
  k8sretry_call_free(call);
  k8sretry_call_options bad = {.verb = 42};
  CHECK(k8sretry_call_begin_with(p, S("f"), &bad, &call) == K8SRETRY_STATUS_INVALID_ARGUMENT, "bad verb");
  CHECK_OK(k8sretry_call_begin_with(p, S("abuse_null_options"), NULL, &call));
  k8sretry_call_free(call);

  /* With a reader: a cancel while the read-back runs is one outcome and one event. */
  k8sretry_call_options reading = {.verb = K8SRETRY_VERB_POST, .recovery = K8SRETRY_RECOVERY_CREATE,
                                   .has_reader = true};
  CHECK_OK(k8sretry_call_begin_with(p, S("abuse_cancel_read"), &reading, &call));
  CHECK_OK(k8sretry_call_on_failure(call, reset, &d));
  CHECK_OK(k8sretry_call_on_failure(call, exists, &d));
  CHECK(d.action == K8SRETRY_ACTION_READ_BACK, "read back: %d", d.action);
  events_seen = 0;
  CHECK_OK(k8sretry_set_event_callback(keep_error, NULL));
  CHECK(k8sretry_call_on_cancelled(NULL, &d) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL call");
  CHECK(k8sretry_call_on_cancelled(call, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out");
  CHECK_OK(k8sretry_call_on_cancelled(call, &d));
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_CANCELLED, "cancelled: %d %d",
        d.action, d.give_up_reason);
  CHECK(k8sretry_call_on_cancelled(call, &d) == K8SRETRY_STATUS_CALL_FINISHED, "cancel after the end");
  CHECK(k8sretry_call_on_read_back(call, K8SRETRY_READ_OURS, NULL, &d) == K8SRETRY_STATUS_CALL_FINISHED,
        "the read's result after the cancel");
  CHECK_OK(k8sretry_set_event_callback(NULL, NULL));
  CHECK(events_seen == 1, "one event: %d", events_seen);
  k8sretry_call_free(call);
  char *text = NULL;
  CHECK_OK(k8sretry_metrics_text(&text));
  CHECK(text && strstr(text, "k8sretry_giveups_total{function=\"abuse_cancel_read\",reason=\"Cancelled\"} 1"),
        "one Cancelled give-up counted");
  k8sretry_string_free(text);

  /* Nesting: 4 attempts of the outer run, one each of the inner ones: 4, not 16. */
  k8sretry_run_result outer = {0};
  CHECK_OK(k8sretry_run(p, S("abuse_outer"), K8SRETRY_VERB_GET, outer_attempt, p, &outer));
  CHECK(!outer.succeeded && outer.attempts == 4 && outer.give_up_reason == K8SRETRY_GIVE_UP_MAX_RETRIES,
        "outer: %u %d", outer.attempts, outer.give_up_reason);
  CHECK(run_inner_calls == 4, "inner attempts: %d", run_inner_calls);
  run_inner_calls = 0;
  CHECK_OK(k8sretry_run(p, S("abuse_inner"), K8SRETRY_VERB_GET, inner_attempt, NULL, &outer));
  CHECK(outer.attempts == 4 && run_inner_calls == 4, "alone it retries: %u", outer.attempts);
  CHECK(strcmp(k8sretry_give_up_reason_name(K8SRETRY_GIVE_UP_NESTED), "Nested") == 0, "the reason's name");

  k8sretry_failure_free(reset);
  k8sretry_failure_free(exists);
  k8sretry_policy_free(p);
}

/* The audit's holes: the flag and hint setters change decisions; every failure setter, the call
 * queries and k8sretry_run take a NULL handle; the constructors and queries a NULL out-param. */
static void setters_change_decisions(void) {
  const char *json = "{\"jitter\": \"none\", \"budget\": null, \"retry_after_spread\": 0}";
  k8sretry_policy *p = NULL;
  CHECK_OK(k8sretry_policy_from_json(json, strlen(json), NULL, &p, NULL, 0));
  k8sretry_failure *f = NULL;
  CHECK_OK(k8sretry_failure_new(&f));
  k8sretry_decision d;
  k8sretry_class cls = K8SRETRY_CLASS_NONE;

  /* retryAfterSeconds: a 429's hint of 9 s beats the 1 s backoff; 0 is no hint. */
  CHECK_OK(k8sretry_failure_set_status(f, 429));
  CHECK_OK(k8sretry_failure_set_retry_after_seconds(f, 9));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY && d.delay_nanos == 9000000000ull, "hint 9 s: %d %llu", d.action,
        (unsigned long long)d.delay_nanos);
  CHECK_OK(k8sretry_failure_set_retry_after_seconds(f, 0));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY && d.delay_nanos == 1000000000ull, "no hint: %llu",
        (unsigned long long)d.delay_nanos);

  /* cancelled: a 503 that would be retried gives up Cancelled, and is retried again once cleared. */
  CHECK_OK(k8sretry_failure_reset(f));
  CHECK_OK(k8sretry_failure_set_status(f, 503));
  CHECK_OK(k8sretry_failure_set_cancelled(f, true));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_CANCELLED, "cancelled: %d %d",
        d.action, d.give_up_reason);
  CHECK_OK(k8sretry_failure_set_cancelled(f, false));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "not cancelled any more: %d", d.action);

  /* timeout: alone it is an ambiguous network failure (a GET is retried, a POST is not resent). */
  CHECK_OK(k8sretry_failure_reset(f));
  CHECK_OK(k8sretry_failure_set_timeout(f, true));
  CHECK_OK(k8sretry_classify(p, f, &cls));
  CHECK(cls == K8SRETRY_CLASS_NETWORK_AMBIGUOUS, "timeout class %d", cls);
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "timed-out GET: %d", d.action);
  d = first_decision(p, K8SRETRY_VERB_POST, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NOT_IDEMPOTENT,
        "timed-out POST: %d %d", d.action, d.give_up_reason);
  CHECK_OK(k8sretry_failure_set_timeout(f, false));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NON_RETRYABLE,
        "nothing set is fatal: %d %d", d.action, d.give_up_reason);

  /* user_retryable: a 400 the caller's own rule retries (as Transient: a POST is still not resent). */
  CHECK_OK(k8sretry_failure_set_status(f, 400));
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NON_RETRYABLE, "400: %d",
        d.action);
  CHECK_OK(k8sretry_failure_set_user_retryable(f, true));
  CHECK_OK(k8sretry_classify(p, f, &cls));
  CHECK(cls == K8SRETRY_CLASS_TRANSIENT, "user-retryable class %d", cls);
  d = first_decision(p, K8SRETRY_VERB_GET, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "user-retryable GET: %d", d.action);
  d = first_decision(p, K8SRETRY_VERB_POST, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NOT_IDEMPOTENT,
        "user-retryable POST: %d %d", d.action, d.give_up_reason);

  /* The failure's own verb counts when the call's is unknown; errno 104 is ECONNRESET. */
  CHECK_OK(k8sretry_failure_reset(f));
  CHECK_OK(k8sretry_failure_add_errno(f, 104));
  CHECK_OK(k8sretry_failure_set_verb(f, K8SRETRY_VERB_POST));
  d = first_decision(p, K8SRETRY_VERB_UNKNOWN, f);
  CHECK(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_NOT_IDEMPOTENT,
        "reset of a POST: %d %d", d.action, d.give_up_reason);
  CHECK_OK(k8sretry_failure_set_verb(f, K8SRETRY_VERB_GET));
  d = first_decision(p, K8SRETRY_VERB_UNKNOWN, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "reset of a GET: %d", d.action);

  /* Every setter with a NULL handle. */
  CHECK(k8sretry_failure_reset(NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "reset NULL");
  CHECK(k8sretry_failure_set_status_body(NULL, S("{\"code\":429}")) == K8SRETRY_STATUS_NULL_ARGUMENT, "body NULL");
  CHECK(k8sretry_failure_set_retry_after(NULL, S("5")) == K8SRETRY_STATUS_NULL_ARGUMENT, "retry_after NULL");
  CHECK(k8sretry_failure_set_retry_after_seconds(NULL, 5) == K8SRETRY_STATUS_NULL_ARGUMENT, "seconds NULL");
  CHECK(k8sretry_failure_add_code(NULL, S("ECONNRESET")) == K8SRETRY_STATUS_NULL_ARGUMENT, "add_code NULL");
  CHECK(k8sretry_failure_add_errno(NULL, 104) == K8SRETRY_STATUS_NULL_ARGUMENT, "add_errno NULL");
  CHECK(k8sretry_failure_set_timeout(NULL, true) == K8SRETRY_STATUS_NULL_ARGUMENT, "timeout NULL");
  CHECK(k8sretry_failure_set_cancelled(NULL, true) == K8SRETRY_STATUS_NULL_ARGUMENT, "cancelled NULL");
  CHECK(k8sretry_failure_set_user_retryable(NULL, true) == K8SRETRY_STATUS_NULL_ARGUMENT, "user_retryable NULL");
  CHECK(k8sretry_failure_set_verb(NULL, K8SRETRY_VERB_GET) == K8SRETRY_STATUS_NULL_ARGUMENT, "set_verb NULL");
  CHECK(k8sretry_failure_set_error(NULL, S("E"), S("m")) == K8SRETRY_STATUS_NULL_ARGUMENT, "set_error NULL");
  CHECK(k8sretry_failure_set_error(f, NULL, 2, S("m")) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL error type");
  CHECK(k8sretry_failure_set_error(f, S("E"), NULL, 2) == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL message");
  /* A refused setter leaves the failure as it was (still a GET reset). */
  d = first_decision(p, K8SRETRY_VERB_UNKNOWN, f);
  CHECK(d.action == K8SRETRY_ACTION_RETRY, "failure unchanged by refused setters: %d", d.action);

  /* The calls' queries and k8sretry_run with NULL handles. */
  uint32_t n = 77;
  CHECK(k8sretry_call_on_success(NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "on_success NULL");
  CHECK(k8sretry_call_attempts(NULL, &n) == K8SRETRY_STATUS_NULL_ARGUMENT && n == 77, "attempts NULL");
  int count = 0;
  k8sretry_run_result r = {.attempts = 99};
  CHECK(k8sretry_run(NULL, S("f"), 0, never_called, &count, &r) == K8SRETRY_STATUS_NULL_ARGUMENT, "run NULL");
  CHECK(count == 0 && r.attempts == 99, "run did nothing");

  /* NULL out-params: nothing is made, nothing is written. */
  CHECK(k8sretry_call_begin(p, S("f"), K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, NULL) ==
            K8SRETRY_STATUS_NULL_ARGUMENT,
        "call_begin NULL out");
  char err[8] = "xxxxxxx";
  CHECK(k8sretry_policy_from_json(json, strlen(json), NULL, NULL, err, sizeof err) == K8SRETRY_STATUS_NULL_ARGUMENT,
        "from_json NULL out");
  CHECK(k8sretry_policy_from_json(S("{\"max_retrys\": 1}"), NULL, NULL, err, sizeof err) ==
                K8SRETRY_STATUS_NULL_ARGUMENT &&
            strcmp(err, "xxxxxxx") == 0,
        "from_json NULL out before the JSON: %s", err);
  CHECK(k8sretry_policy_max_retries(p, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "max_retries NULL out");
  CHECK(k8sretry_clock_new_manual(0, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "clock NULL out");
  CHECK(k8sretry_is_retryable(p, f, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "is_retryable NULL out");
  bool found = true;
  CHECK(k8sretry_parse_retry_after(S("5"), 0, &found, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT && found,
        "NULL seconds");
  k8sretry_call *call = NULL;
  CHECK_OK(k8sretry_call_begin(p, S("abuse_flags"), K8SRETRY_VERB_GET, K8SRETRY_RECOVERY_NONE, &call));
  uint64_t after = 5;
  CHECK_OK(k8sretry_call_retry_after(call, &found, &after));
  CHECK(!found && after == 0, "no retry-after before the end");
  CHECK(k8sretry_call_attempts(call, NULL) == K8SRETRY_STATUS_NULL_ARGUMENT, "attempts NULL out");
  CHECK_OK(k8sretry_call_attempts(call, &n));
  CHECK(n == 1, "attempts %u", n);
  k8sretry_call_free(call);
  CHECK(strcmp(k8sretry_give_up_reason_name(K8SRETRY_GIVE_UP_NONE), "None") == 0, "name of none");

  k8sretry_failure_free(f);
  k8sretry_policy_free(p);
}

int main(void) {
  statuses_have_messages();
  policies();
  failures();
  calls();
  lossy_status_body();
  event_error_text();
  waits();
  begin_with();
  setters_change_decisions();
  return harness_finish("abuse");
}
