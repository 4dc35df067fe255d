/* libFuzzer target over the C ABI (include/k8sretry.h): the input is a sequence of ABI calls on a
 * few slots of handles (policies, clocks, failures, calls), in any order, with NULLs, bad numbers,
 * invalid UTF-8, lengths past PTRDIFF_MAX, and text taken from the input or from a list of known
 * values (presets, policies, Retry-After values, Status bodies, codes).
 *
 * Built with clang -fsanitize=fuzzer,address,undefined against libk8sretry.a instrumented with
 * sancov (see mk/fuzz.mk). Checks: no crash, no leak (ASan), no K8SRETRY_STATUS_PANIC; every
 * status is the one the arguments call for (NULL_ARGUMENT, INVALID_ARGUMENT, INVALID_UTF8,
 * OUT_OF_ORDER, CALL_FINISHED as a model of the call's state predicts); out-params stay untouched
 * on failure; decisions are well formed (an action the header lists, a give-up reason exactly with
 * GIVE_UP, attempts never above max_retries + 1); events carry readable strings. Every handle is
 * freed at the end of each input. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8sretry.h"

#define SLOTS 4
#define FAIL(...)                                                          \
  do {                                                                     \
    fprintf(stderr, "abi_fuzz: %s:%d: ", __FILE__, __LINE__);             \
    fprintf(stderr, __VA_ARGS__);                                          \
    fprintf(stderr, "\n");                                                 \
    abort();                                                               \
  } while (0)
#define EXPECT(cond, ...)                                                  \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "abi_fuzz: %s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                        \
      fprintf(stderr, "\n");                                               \
      abort();                                                             \
    }                                                                      \
  } while (0)
#define EXPECT_STATUS(expr, want, what)                                    \
  do {                                                                     \
    k8sretry_status got_ = (expr);                                         \
    k8sretry_status want_ = (want);                                        \
    EXPECT(got_ == want_, "%s -> status %d, wanted %d", what, (int)got_, (int)want_); \
  } while (0)

/* ------------------------------------------------------------------ input reader */

typedef struct {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t u8(reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

static uint64_t un(reader *r, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | u8(r);
  return v;
}

static double f64(reader *r) {
  uint8_t kind = u8(r);
  switch (kind % 8) {
    case 0: return (double)(int32_t)un(r, 4);
    case 1: return (double)un(r, 2) / 16.0;
    case 2: {
      uint64_t bits = un(r, 8);
      double d;
      memcpy(&d, &bits, sizeof d);
      return d;
    }
    case 3: return NAN;
    case 4: return INFINITY;
    case 5: return -1.0;
    case 6: return 1700000000.0 + (double)(int16_t)un(r, 2);
    default: return 0.0;
  }
}

/* ------------------------------------------------------------------ text arguments */

static const char *const KNOWN[] = {
    /* presets */
    "default", "mutation", "read", "connection", "runner_hooks", "conflict", "reconcile", "fast",
    /* policies */
    "{\"jitter\": \"none\", \"budget\": null}",
    "{\"preset\": \"mutation\", \"seed\": 7, \"budget\": {\"ratio\": 0.5, \"burst\": 2, \"ttl\": 1}}",
    "{\"max_retries\": 2, \"deadline\": 3, \"breaker\": {\"failure_threshold\": 1, \"open_for\": 5}}",
    "{\"retry_after_cap\": 0, \"initial_delay\": 0, \"max_delay\": 0, \"jitter\": \"full\"}",
    "{\"jitter\": {\"proportional\": 0.3}, \"retry_statuses\": [503], \"retry_timeouts\": false}",
    "{\"not_sent_codes\": [\"ECONNRESET\"]}",
    "{\"max_retries\": 10001}",
    /* a budget that refuses every retry past the episode's first: WAIT, then resume */
    ("{\"budget\": {\"ratio\": 0, \"burst\": 0, \"min_per_second\": 0, \"min_per_episode\": 1, \"ttl\": 10}, "
     "\"deadline\": 30, \"jitter\": \"none\", \"retry_after_spread\": 0}"),
    /* a hint past the cap gives up RETRY_AFTER_TOO_LONG; a hint within it is spread up to 2x */
    "{\"retry_after_cap\": 2, \"retry_after_spread\": 1, \"budget\": {\"min_per_episode\": 0}}",
    /* Retry-After values */
    "5", "  12  ", "0", "-5", "Sun, 06 Nov 1994 08:49:37 GMT", "Tue, 14 Nov 2023 22:13:30 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "99999999999999999999999",
    /* Status bodies */
    "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3}}",
    "{\"kind\":\"Status\",\"code\":409,\"reason\":\"AlreadyExists\"}",
    "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}",
    "{\"code\":503,\"reason\":\"ServiceUnavailable\",\"details\":{\"retryAfterSeconds\":1e400}}",
    "{\"code\":404,\"reason\":\"NotFound\"}", "<html>503</html>",
    /* reasons and codes */
    "TooManyRequests", "ServerTimeout", "AlreadyExists", "Conflict", "NotFound", "Gone", "ECONNRESET",
    "ECONNREFUSED", "ETIMEDOUT", "UND_ERR_SOCKET", "EAI_AGAIN",
    /* resources */
    "createSelfSubjectAccessReview", "create_namespaced_pod", "TokenReview",
    /* not UTF-8 */
    "\xff\xfe", "bad \xc0\x80 overlong", "\xed\xa0\x80 surrogate",
};
#define KNOWN_COUNT (sizeof KNOWN / sizeof *KNOWN)

/* A text argument: `ptr` is a malloc'd copy of exactly `len` bytes (so ASan sees reads past it
 * in memcpy), or NULL; `bad_len` marks a length no real buffer has. */
typedef struct {
  char *ptr;
  size_t len;
  bool null_with_len;
  bool huge;
} text;

static text take_text(reader *r) {
  text t = {0};
  uint8_t mode = u8(r);
  const char *src = NULL;
  size_t n = 0;
  switch (mode % 16) {
    case 0: case 1: case 2: case 3: case 4: case 5: /* from the input */
      n = (size_t)(u8(r) % 64);
      if (mode % 16 == 5) n = (size_t)un(r, 2);
      if (n > r->n) n = r->n;
      src = (const char *)r->p;
      r->p += n;
      r->n -= n;
      break;
    case 6: case 7: case 8: case 9: case 10: case 11: { /* a known value */
      src = KNOWN[u8(r) % KNOWN_COUNT];
      n = strlen(src);
      break;
    }
    case 12: /* NULL, length 0: an empty text */
      return t;
    case 13: /* NULL with a length */
      t.len = 1 + u8(r);
      t.null_with_len = true;
      return t;
    case 14: /* a length no buffer has */
      t.ptr = malloc(1);
      t.ptr[0] = 'x';
      t.len = u8(r) % 2 ? SIZE_MAX : (size_t)PTRDIFF_MAX + 1;
      t.huge = true;
      return t;
    default: /* empty, not NULL */
      t.ptr = malloc(1);
      return t;
  }
  t.ptr = malloc(n ? n : 1);
  if (n) memcpy(t.ptr, src, n);
  t.len = n;
  return t;
}

static void drop_text(text *t) {
  free(t->ptr);
  t->ptr = NULL;
}

/* Strict UTF-8 as Rust's str::from_utf8 reads it: no overlongs, no surrogates, <= U+10FFFF. */
static bool utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) need = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) need = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) need = 3, cp = c & 0x07, min = 0x10000;
    else return false;
    if (n - i <= need) return false;
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

/* The status a (pointer, length) argument gets on its own: NULL with a length, a length above
 * PTRDIFF_MAX, and (for strict text) invalid UTF-8. OK when it is fine. */
static k8sretry_status text_status(const text *t, bool strict) {
  if (t->huge) return K8SRETRY_STATUS_INVALID_ARGUMENT;
  if (t->null_with_len) return K8SRETRY_STATUS_NULL_ARGUMENT;
  if (strict && t->ptr && !utf8_ok((const unsigned char *)t->ptr, t->len)) return K8SRETRY_STATUS_INVALID_UTF8;
  return K8SRETRY_STATUS_OK;
}

/* ------------------------------------------------------------------ state */

typedef enum { CALL_RUNNING, CALL_READING, CALL_WAITING, CALL_FINISHED } call_state;

typedef struct {
  k8sretry_policy *policies[SLOTS];
  k8sretry_clock *clocks[SLOTS];
  k8sretry_failure *failures[SLOTS];
  k8sretry_call *calls[SLOTS];
  call_state states[SLOTS];
  uint32_t max_retries[SLOTS];
  uint64_t events;
} world;

static k8sretry_policy *zero_delay_policy; /* for k8sretry_run, which sleeps for real */

/* A slot index, or SLOTS for "pass NULL". */
static unsigned slot(reader *r) {
  uint8_t b = u8(r);
  return b % 8 == 7 ? SLOTS : b % SLOTS;
}

#define HANDLE(w, kind, i) ((i) < SLOTS ? (w)->kind[i] : NULL)

static void check_status_range(k8sretry_status st, const char *what) {
  EXPECT(st != K8SRETRY_STATUS_PANIC, "%s", what);
  EXPECT((unsigned)st <= 8, "%s -> %d", what, (int)st);
}

/* ------------------------------------------------------------------ events */

static volatile uint64_t event_sink;

static void touch(k8sretry_str s) {
  EXPECT(s.len == 0 || s.data != NULL, "a string of %zu bytes at NULL", s.len);
  for (size_t i = 0; i < s.len; i++) event_sink += (unsigned char)s.data[i];
}

static void on_event(void *userdata, const k8sretry_event *e) {
  world *w = userdata;
  w->events++;
  EXPECT(e->name && strncmp(e->name, "k8s_api_call_", 13) == 0, "event name %s", e->name ? e->name : "(null)");
  touch(e->function);
  touch(e->reason);
  touch(e->code);
  touch(e->error_type);
  touch(e->error);
  EXPECT(e->attempt >= 1, "attempt %u", e->attempt);
  EXPECT(!isnan(e->delay_seconds) && isfinite(e->delay_seconds), "delay %f", e->delay_seconds);
  EXPECT((unsigned)e->class_ <= 10 && (unsigned)e->give_up_reason <= 9, "class %d reason %d", e->class_,
         e->give_up_reason);
}

/* ------------------------------------------------------------------ failure setters */

static void set_failure_field(reader *r, k8sretry_failure *f) {
  k8sretry_status st, want = f ? K8SRETRY_STATUS_OK : K8SRETRY_STATUS_NULL_ARGUMENT;
  uint8_t op = u8(r) % 13;
  text a = {0}, b = {0};
  switch (op) {
    case 0: {
      /* Any uint16_t: statuses outside 100-599 count in the metrics without a status label
       * (they once made a series each, and metrics_text grew to megabytes over 10^7 inputs). */
      uint16_t status = (uint16_t)un(r, 2);
      st = k8sretry_failure_set_status(f, status);
      break;
    }
    case 1: st = k8sretry_failure_set_retry_after_seconds(f, (int64_t)un(r, 8)); break;
    case 2: st = k8sretry_failure_add_errno(f, (int32_t)un(r, 4)); break;
    case 3: st = k8sretry_failure_set_timeout(f, u8(r) & 1); break;
    case 4: st = k8sretry_failure_set_cancelled(f, u8(r) & 1); break;
    case 5: st = k8sretry_failure_set_user_retryable(f, u8(r) & 1); break;
    case 6: {
      uint32_t verb = u8(r) % 10;
      st = k8sretry_failure_set_verb(f, verb);
      if (f && verb > 7) want = K8SRETRY_STATUS_INVALID_ARGUMENT;
      break;
    }
    case 7: st = k8sretry_failure_reset(f); break;
    case 8: case 9: case 10: case 11: {
      a = take_text(r);
      if (f && text_status(&a, false) != K8SRETRY_STATUS_OK) want = text_status(&a, false);
      if (op == 8) st = k8sretry_failure_set_reason(f, a.ptr, a.len);
      else if (op == 9) st = k8sretry_failure_set_status_body(f, a.ptr, a.len);
      else if (op == 10) st = k8sretry_failure_set_retry_after(f, a.ptr, a.len);
      else st = k8sretry_failure_add_code(f, a.ptr, a.len);
      break;
    }
    default: {
      a = take_text(r);
      b = take_text(r);
      if (f && text_status(&a, false) != K8SRETRY_STATUS_OK) want = text_status(&a, false);
      else if (f && text_status(&b, false) != K8SRETRY_STATUS_OK) want = text_status(&b, false);
      st = k8sretry_failure_set_error(f, a.ptr, a.len, b.ptr, b.len);
      break;
    }
  }
  check_status_range(st, "failure setter");
  EXPECT(st == want, "setter %u -> %d, wanted %d", op, (int)st, (int)want);
  drop_text(&a);
  drop_text(&b);
}

/* ------------------------------------------------------------------ decisions */

static void check_decision(world *w, unsigned i, const k8sretry_decision *d, const char *what) {
  switch (d->action) {
    case K8SRETRY_ACTION_RETRY:
      w->states[i] = CALL_RUNNING;
      break;
    case K8SRETRY_ACTION_READ_BACK:
      w->states[i] = CALL_READING;
      break;
    case K8SRETRY_ACTION_WAIT:
      /* Nothing is sent: only k8sretry_call_resume goes on (every other step is OUT_OF_ORDER). */
      w->states[i] = CALL_WAITING;
      break;
    case K8SRETRY_ACTION_DONE:
    case K8SRETRY_ACTION_RECOVERED:
    case K8SRETRY_ACTION_GIVE_UP:
      w->states[i] = CALL_FINISHED;
      EXPECT(d->delay_nanos == 0, "%s: delay %llu with action %d", what, (unsigned long long)d->delay_nanos,
             d->action);
      break;
    default:
      FAIL("%s: action %d", what, (int)d->action);
  }
  bool gave_up = d->action == K8SRETRY_ACTION_GIVE_UP;
  EXPECT(gave_up == (d->give_up_reason != K8SRETRY_GIVE_UP_NONE) && (unsigned)d->give_up_reason <= 9,
         "%s: action %d with reason %d", what, d->action, d->give_up_reason);
  EXPECT(strcmp(k8sretry_give_up_reason_name(d->give_up_reason), "Unknown") != 0, "%s", what);
  uint32_t attempts = 0;
  EXPECT_STATUS(k8sretry_call_attempts(w->calls[i], &attempts), K8SRETRY_STATUS_OK, "attempts");
  EXPECT(attempts >= 1 && attempts <= w->max_retries[i] + 1, "%s: %u attempts, max_retries %u", what, attempts,
         w->max_retries[i]);
}

static void begin_call(reader *r, world *w) {
  unsigned i = u8(r) % SLOTS, p = slot(r);
  k8sretry_policy *policy = HANDLE(w, policies, p);
  uint32_t verb = u8(r) % 9, recovery = u8(r) % 11;
  bool null_out = u8(r) % 16 == 0;
  text name;
  /* Metrics are kept per function name: names from the input only where the call cannot begin. */
  if (u8(r) % 4 == 0) {
    name = take_text(r);
    if (verb <= 7 && recovery <= 9) verb = 8;
  } else {
    static const char *const NAMES[] = {"fuzz_get", "fuzz_create", "fuzz_delete", ""};
    const char *n = NAMES[u8(r) % 4];
    name = (text){.ptr = malloc(strlen(n) + 1), .len = strlen(n)};
    memcpy(name.ptr, n, strlen(n) + 1);
  }
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (null_out || !policy) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (text_status(&name, true) != K8SRETRY_STATUS_OK) want = text_status(&name, true);
  else if (verb > 7 || recovery > 9) want = K8SRETRY_STATUS_INVALID_ARGUMENT;
  k8sretry_call *call = (k8sretry_call *)&want; /* a sentinel */
  k8sretry_status st = k8sretry_call_begin(policy, name.ptr, name.len, verb, recovery, null_out ? NULL : &call);
  drop_text(&name);
  check_status_range(st, "call_begin");
  EXPECT(st == want, "call_begin -> %d, wanted %d", (int)st, (int)want);
  if (st != K8SRETRY_STATUS_OK) {
    EXPECT(call == (k8sretry_call *)&want, "call_begin wrote its out-param on failure");
    return;
  }
  k8sretry_call_free(w->calls[i]);
  w->calls[i] = call;
  w->states[i] = CALL_RUNNING;
  EXPECT_STATUS(k8sretry_policy_max_retries(policy, &w->max_retries[i]), K8SRETRY_STATUS_OK, "max_retries");
}

static void call_on_failure(reader *r, world *w) {
  unsigned i = slot(r), f = slot(r);
  k8sretry_call *call = HANDLE(w, calls, i);
  k8sretry_failure *failure = HANDLE(w, failures, f);
  bool null_out = u8(r) % 16 == 0;
  k8sretry_decision d = {.action = (k8sretry_action)77};
  k8sretry_status st = k8sretry_call_on_failure(call, failure, null_out ? NULL : &d);
  check_status_range(st, "on_failure");
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (null_out || !call || !failure) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (w->states[i] == CALL_FINISHED) want = K8SRETRY_STATUS_CALL_FINISHED;
  else if (w->states[i] == CALL_READING || w->states[i] == CALL_WAITING) want = K8SRETRY_STATUS_OUT_OF_ORDER;
  /* While waiting, the one failure in order is a cancel (DESIGN §1): the call gives up Cancelled. */
  bool cancelled_wait = want == K8SRETRY_STATUS_OUT_OF_ORDER && w->states[i] == CALL_WAITING &&
                        st == K8SRETRY_STATUS_OK;
  if (cancelled_wait) {
    EXPECT(d.action == K8SRETRY_ACTION_GIVE_UP && d.give_up_reason == K8SRETRY_GIVE_UP_CANCELLED,
           "on_failure while waiting: action %d reason %d", (int)d.action, (int)d.give_up_reason);
    want = K8SRETRY_STATUS_OK;
  }
  EXPECT(st == want, "on_failure -> %d, wanted %d (state %d)", (int)st, (int)want, call ? (int)w->states[i] : -1);
  if (st == K8SRETRY_STATUS_OK) check_decision(w, i, &d, "on_failure");
  else EXPECT(d.action == (k8sretry_action)77, "on_failure wrote its out-param on failure");
}

static void call_on_read_back(reader *r, world *w) {
  unsigned i = slot(r), f = slot(r);
  k8sretry_call *call = HANDLE(w, calls, i);
  k8sretry_failure *failure = HANDLE(w, failures, f);
  uint32_t outcome = u8(r) % 8 == 0 ? (uint32_t)un(r, 4) : u8(r) % 6;
  bool null_out = u8(r) % 16 == 0;
  k8sretry_decision d = {.action = (k8sretry_action)77};
  k8sretry_status st = k8sretry_call_on_read_back(call, outcome, failure, null_out ? NULL : &d);
  check_status_range(st, "on_read_back");
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (null_out || !call) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (outcome == K8SRETRY_READ_FAILED && !failure) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (outcome < 1 || outcome > 4) want = K8SRETRY_STATUS_INVALID_ARGUMENT;
  else if (w->states[i] == CALL_FINISHED) want = K8SRETRY_STATUS_CALL_FINISHED;
  else if (w->states[i] == CALL_RUNNING || w->states[i] == CALL_WAITING) want = K8SRETRY_STATUS_OUT_OF_ORDER;
  EXPECT(st == want, "on_read_back(%u) -> %d, wanted %d", outcome, (int)st, (int)want);
  if (st == K8SRETRY_STATUS_OK) {
    check_decision(w, i, &d, "on_read_back");
    if (outcome == K8SRETRY_READ_OURS) EXPECT(d.action == K8SRETRY_ACTION_RECOVERED, "ours -> %d", d.action);
  } else {
    EXPECT(d.action == (k8sretry_action)77, "on_read_back wrote its out-param on failure");
  }
}

static void call_on_success(reader *r, world *w) {
  unsigned i = slot(r);
  k8sretry_call *call = HANDLE(w, calls, i);
  k8sretry_status st = k8sretry_call_on_success(call);
  check_status_range(st, "on_success");
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (!call) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (w->states[i] == CALL_FINISHED) want = K8SRETRY_STATUS_CALL_FINISHED;
  else if (w->states[i] == CALL_READING || w->states[i] == CALL_WAITING) want = K8SRETRY_STATUS_OUT_OF_ORDER;
  EXPECT(st == want, "on_success -> %d, wanted %d", (int)st, (int)want);
  if (st == K8SRETRY_STATUS_OK) w->states[i] = CALL_FINISHED;
}

/* After a WAIT: a resend now (RETRY or READ_BACK with no delay: the wait was the delay), WAIT
 * again, or GIVE_UP with a gate's reason. Out of order (not waiting) it is OUT_OF_ORDER. */
static void call_resume(reader *r, world *w) {
  unsigned i = slot(r);
  k8sretry_call *call = HANDLE(w, calls, i);
  bool null_out = u8(r) % 16 == 0;
  k8sretry_decision d = {.action = (k8sretry_action)77};
  k8sretry_status st = k8sretry_call_resume(call, null_out ? NULL : &d);
  check_status_range(st, "resume");
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (null_out || !call) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (w->states[i] == CALL_FINISHED) want = K8SRETRY_STATUS_CALL_FINISHED;
  else if (w->states[i] != CALL_WAITING) want = K8SRETRY_STATUS_OUT_OF_ORDER;
  EXPECT(st == want, "resume -> %d, wanted %d (state %d)", (int)st, (int)want, call ? (int)w->states[i] : -1);
  if (st != K8SRETRY_STATUS_OK) {
    EXPECT(d.action == (k8sretry_action)77, "resume wrote its out-param on failure");
    return;
  }
  check_decision(w, i, &d, "resume");
  switch (d.action) {
    case K8SRETRY_ACTION_RETRY:
    case K8SRETRY_ACTION_READ_BACK:
      EXPECT(d.delay_nanos == 0, "resume: a resend delayed again by %llu ns", (unsigned long long)d.delay_nanos);
      break;
    case K8SRETRY_ACTION_WAIT:
      break;
    case K8SRETRY_ACTION_GIVE_UP:
      EXPECT(d.give_up_reason == K8SRETRY_GIVE_UP_CIRCUIT_OPEN || d.give_up_reason == K8SRETRY_GIVE_UP_DEADLINE ||
                 d.give_up_reason == K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED,
             "resume gave up %d", d.give_up_reason);
      break;
    default:
      FAIL("resume: action %d", (int)d.action);
  }
}

static void call_queries(reader *r, world *w) {
  unsigned i = slot(r);
  const k8sretry_call *call = HANDLE(w, calls, i);
  uint8_t nulls = u8(r);
  uint32_t attempts = 12345;
  k8sretry_status st = k8sretry_call_attempts(call, nulls & 1 ? NULL : &attempts);
  check_status_range(st, "attempts");
  EXPECT(st == ((nulls & 1) || !call ? K8SRETRY_STATUS_NULL_ARGUMENT : K8SRETRY_STATUS_OK), "attempts -> %d", st);
  if (st != K8SRETRY_STATUS_OK) EXPECT(attempts == 12345, "attempts written on failure");
  bool found = true;
  uint64_t nanos = 777;
  st = k8sretry_call_retry_after(call, nulls & 2 ? NULL : &found, nulls & 4 ? NULL : &nanos);
  check_status_range(st, "retry_after");
  bool null = (nulls & 6) || !call;
  EXPECT(st == (null ? K8SRETRY_STATUS_NULL_ARGUMENT : K8SRETRY_STATUS_OK), "retry_after -> %d", st);
  if (st != K8SRETRY_STATUS_OK) EXPECT(found && nanos == 777, "retry_after written on failure");
  else if (!found) EXPECT(nanos == 0, "no retry-after but %llu ns", (unsigned long long)nanos);
  else EXPECT(w->states[i] == CALL_FINISHED, "a retry-after before the end");
}

/* ------------------------------------------------------------------ policies and clocks */

static void policy_from_json(reader *r, world *w) {
  unsigned i = u8(r) % SLOTS, c = slot(r);
  text json = take_text(r);
  bool null_out = u8(r) % 16 == 0;
  size_t err_len = u8(r) % 4 == 0 ? 0 : (size_t)(u8(r) % 96);
  char *err = err_len ? malloc(err_len) : NULL;
  if (err) memset(err, 'x', err_len);
  k8sretry_policy *policy = (k8sretry_policy *)&json;
  k8sretry_status st = k8sretry_policy_from_json(json.ptr, json.len, HANDLE(w, clocks, c), null_out ? NULL : &policy,
                                                 err, err_len);
  check_status_range(st, "policy_from_json");
  if (null_out) EXPECT(st == K8SRETRY_STATUS_NULL_ARGUMENT, "NULL out -> %d", st);
  else if (text_status(&json, true) != K8SRETRY_STATUS_OK)
    EXPECT(st == text_status(&json, true), "bad text -> %d", st);
  else
    EXPECT(st == K8SRETRY_STATUS_OK || st == K8SRETRY_STATUS_INVALID_POLICY || st == K8SRETRY_STATUS_UNKNOWN_PRESET,
           "policy_from_json -> %d", st);
  if (st == K8SRETRY_STATUS_INVALID_POLICY || st == K8SRETRY_STATUS_UNKNOWN_PRESET) {
    if (err) EXPECT(memchr(err, 0, err_len) != NULL, "message not terminated within %zu bytes", err_len);
  } else if (err) {
    for (size_t k = 0; k < err_len; k++) EXPECT(err[k] == 'x', "err_buf written with status %d", st);
  }
  if (st == K8SRETRY_STATUS_OK) {
    k8sretry_policy_free(w->policies[i]);
    w->policies[i] = policy;
  } else {
    EXPECT(policy == (k8sretry_policy *)&json, "policy written on failure");
  }
  free(err);
  drop_text(&json);
}

static void policy_preset(reader *r, world *w) {
  unsigned i = u8(r) % SLOTS;
  text name = take_text(r);
  k8sretry_policy *policy = NULL;
  k8sretry_status st = k8sretry_policy_new_preset(name.ptr, name.len, &policy);
  check_status_range(st, "new_preset");
  if (text_status(&name, true) != K8SRETRY_STATUS_OK) EXPECT(st == text_status(&name, true), "preset -> %d", st);
  if (st == K8SRETRY_STATUS_OK) {
    k8sretry_policy_free(w->policies[i]);
    w->policies[i] = policy;
  } else {
    EXPECT(st == K8SRETRY_STATUS_UNKNOWN_PRESET || st == text_status(&name, true), "preset -> %d", st);
    EXPECT(policy == NULL, "preset written on failure");
  }
  drop_text(&name);
}

static void policy_queries(reader *r, world *w) {
  unsigned p = slot(r), f = slot(r);
  const k8sretry_policy *policy = HANDLE(w, policies, p);
  const k8sretry_failure *failure = HANDLE(w, failures, f);
  uint8_t nulls = u8(r);
  bool handles = policy && failure;
  uint32_t n = 4242;
  k8sretry_status st = k8sretry_policy_max_retries(policy, nulls & 1 ? NULL : &n);
  EXPECT(st == (policy && !(nulls & 1) ? K8SRETRY_STATUS_OK : K8SRETRY_STATUS_NULL_ARGUMENT), "max_retries %d", st);
  if (st == K8SRETRY_STATUS_OK) EXPECT(n <= 10000, "max_retries %u", n);
  else EXPECT(n == 4242, "max_retries written on failure");

  k8sretry_class cls = (k8sretry_class)99;
  st = k8sretry_classify(policy, failure, nulls & 2 ? NULL : &cls);
  EXPECT(st == (handles && !(nulls & 2) ? K8SRETRY_STATUS_OK : K8SRETRY_STATUS_NULL_ARGUMENT), "classify %d", st);
  if (st == K8SRETRY_STATUS_OK) EXPECT(cls >= K8SRETRY_CLASS_THROTTLED && cls <= K8SRETRY_CLASS_FATAL, "class %d", cls);
  else EXPECT(cls == (k8sretry_class)99, "class written on failure");

  bool retryable = true;
  st = k8sretry_is_retryable(policy, failure, nulls & 4 ? NULL : &retryable);
  EXPECT(st == (handles && !(nulls & 4) ? K8SRETRY_STATUS_OK : K8SRETRY_STATUS_NULL_ARGUMENT), "retryable %d", st);
  if (st == K8SRETRY_STATUS_OK && !(nulls & 2))
    EXPECT(retryable == (cls >= K8SRETRY_CLASS_THROTTLED && cls <= K8SRETRY_CLASS_NETWORK_AMBIGUOUS),
           "retryable %d for class %d", retryable, cls);

  uint64_t nanos = 99;
  st = k8sretry_retry_delay(policy, failure, (uint32_t)un(r, 4), nulls & 8 ? NULL : &nanos);
  EXPECT(st == (handles && !(nulls & 8) ? K8SRETRY_STATUS_OK : K8SRETRY_STATUS_NULL_ARGUMENT), "delay %d", st);
  if (st != K8SRETRY_STATUS_OK) EXPECT(nanos == 99, "delay written on failure");
}

static void clocks(reader *r, world *w) {
  unsigned i = u8(r) % SLOTS;
  double at = f64(r);
  switch (u8(r) % 3) {
    case 0: {
      k8sretry_clock *clock = (k8sretry_clock *)&at;
      bool null_out = u8(r) % 16 == 0;
      k8sretry_status st = k8sretry_clock_new_manual(at, null_out ? NULL : &clock);
      k8sretry_status want = null_out ? K8SRETRY_STATUS_NULL_ARGUMENT
                             : isfinite(at) ? K8SRETRY_STATUS_OK
                                            : K8SRETRY_STATUS_INVALID_ARGUMENT;
      EXPECT_STATUS(st, want, "clock_new_manual");
      if (st == K8SRETRY_STATUS_OK) {
        k8sretry_clock_free(w->clocks[i]);
        w->clocks[i] = clock;
      } else {
        EXPECT(clock == (k8sretry_clock *)&at, "clock written on failure");
      }
      break;
    }
    case 1: {
      unsigned c = slot(r);
      k8sretry_clock *clock = HANDLE(w, clocks, c);
      k8sretry_status st = k8sretry_clock_advance(clock, at);
      k8sretry_status want = !clock                         ? K8SRETRY_STATUS_NULL_ARGUMENT
                             : (isfinite(at) && at >= 0.0) ? K8SRETRY_STATUS_OK
                                                           : K8SRETRY_STATUS_INVALID_ARGUMENT;
      EXPECT_STATUS(st, want, "clock_advance");
      break;
    }
    default:
      k8sretry_clock_free(w->clocks[i]);
      w->clocks[i] = NULL;
  }
}

/* ------------------------------------------------------------------ stateless functions */

static void parse_retry_after(reader *r) {
  text value = take_text(r);
  double now = f64(r);
  uint8_t nulls = u8(r) % 8 == 0 ? u8(r) : 0;
  bool found = true;
  double seconds = -42;
  k8sretry_status st =
      k8sretry_parse_retry_after(value.ptr, value.len, now, nulls & 1 ? NULL : &found, nulls & 2 ? NULL : &seconds);
  k8sretry_status want = (nulls & 3) ? K8SRETRY_STATUS_NULL_ARGUMENT : text_status(&value, false);
  EXPECT_STATUS(st, want, "parse_retry_after");
  if (st != K8SRETRY_STATUS_OK) EXPECT(found && seconds == -42, "parse_retry_after wrote on failure");
  else if (found) EXPECT(seconds > 0 && !isnan(seconds), "hint %f", seconds);
  else EXPECT(seconds == 0, "no hint but %f", seconds);
  drop_text(&value);
}

static void plan_choose(reader *r, world *w) {
  k8sretry_request req = {0};
  req.verb = u8(r) % 9;
  uint8_t flags = u8(r);
  req.named = flags & 1;
  req.generate_name = flags & 2;
  req.resource_version = flags & 4;
  req.adopt_existing = flags & 8;
  req.object_body = flags & 128;
  req.can_get = flags & 16;
  req.can_list = flags & 32;
  req.missing_ok = flags & 64;
  req.patch_type = u8(r) % 6;
  text resource = take_text(r);
  req.resource = resource.ptr;
  req.resource_len = resource.len;
  uint8_t nulls = u8(r) % 8 == 0 ? u8(r) : 0;
  k8sretry_plan plan = {.recovery = 77, .stamp = 77};
  k8sretry_status st = k8sretry_plan_choose(nulls & 1 ? NULL : &req, nulls & 2 ? NULL : &plan);
  k8sretry_status want = K8SRETRY_STATUS_OK;
  if (nulls & 3) want = K8SRETRY_STATUS_NULL_ARGUMENT;
  else if (text_status(&resource, true) != K8SRETRY_STATUS_OK) want = text_status(&resource, true);
  else if (req.patch_type > 4 || req.verb > 7) want = K8SRETRY_STATUS_INVALID_ARGUMENT;
  EXPECT_STATUS(st, want, "plan_choose");
  drop_text(&resource);
  if (st != K8SRETRY_STATUS_OK) {
    EXPECT(plan.recovery == 77 && plan.stamp == 77, "plan written on failure");
    return;
  }
  EXPECT(plan.recovery <= K8SRETRY_RECOVERY_NOT_IDEMPOTENT && plan.stamp <= K8SRETRY_STAMP_ANNOTATION_AND_LABEL,
         "plan %u/%u", plan.recovery, plan.stamp);
  bool write = req.verb == K8SRETRY_VERB_POST || req.verb == K8SRETRY_VERB_PUT || req.verb == K8SRETRY_VERB_PATCH ||
               req.verb == K8SRETRY_VERB_DELETE;
  if (!write) EXPECT(plan.recovery == K8SRETRY_RECOVERY_NONE && plan.stamp == 0, "a read got a plan");
  if (plan.stamp != K8SRETRY_STAMP_NONE) EXPECT(!req.adopt_existing, "stamped a create that adopts");
  /* Begin a call with the plan on the first policy there is. */
  for (unsigned p = 0; p < SLOTS; p++) {
    if (!w->policies[p]) continue;
    unsigned i = u8(r) % SLOTS;
    k8sretry_call *call = NULL;
    EXPECT_STATUS(k8sretry_call_begin(w->policies[p], "fuzz_plan", 9, req.verb, plan.recovery, &call),
                  K8SRETRY_STATUS_OK, "call_begin with a plan");
    k8sretry_call_free(w->calls[i]);
    w->calls[i] = call;
    w->states[i] = CALL_RUNNING;
    EXPECT_STATUS(k8sretry_policy_max_retries(w->policies[p], &w->max_retries[i]), K8SRETRY_STATUS_OK, "max");
    break;
  }
}

static void names(reader *r) {
  uint32_t n = u8(r) % 4 == 0 ? (uint32_t)un(r, 4) : u8(r) % 12;
  const char *reason = k8sretry_give_up_reason_name(n);
  EXPECT(reason && strlen(reason) > 0, "reason name %u", n);
  EXPECT((strcmp(reason, "Unknown") == 0) == (n > K8SRETRY_GIVE_UP_NESTED), "reason name %u: %s", n, reason);
  const char *status = k8sretry_status_message(n);
  EXPECT(status && strlen(status) > 0, "status message %u", n);
  EXPECT((strcmp(status, "unknown status code") == 0) == (n > 8), "status message %u: %s", n, status);
  EXPECT(strcmp(k8sretry_version(), K8SRETRY_VERSION_STRING) == 0, "version");
}

/* Rendering every series is the one call whose cost grows with the process's history: one in 64. */
static void metrics(void) {
  static unsigned calls;
  if (calls++ % 64 != 0) return;
  char *text = NULL;
  EXPECT_STATUS(k8sretry_metrics_text(&text), K8SRETRY_STATUS_OK, "metrics_text");
  EXPECT(text != NULL, "metrics text");
  event_sink += strlen(text);
  k8sretry_string_free(text);
  EXPECT_STATUS(k8sretry_metrics_text(NULL), K8SRETRY_STATUS_NULL_ARGUMENT, "metrics_text(NULL)");
}

/* k8sretry_run: each attempt applies a few setters from the input to the run's own failure. */
typedef struct {
  reader *r;
  uint32_t calls;
} run_input;

static int32_t run_attempt(void *userdata, uint32_t attempt, k8sretry_failure *failure) {
  run_input *in = userdata;
  in->calls++;
  EXPECT(attempt == in->calls, "attempt %u, call %u", attempt, in->calls);
  EXPECT(failure != NULL, "no failure to fill");
  unsigned n = u8(in->r) % 5;
  for (unsigned k = 0; k < n; k++) set_failure_field(in->r, failure);
  return in->r->n == 0 ? 0 : (int32_t)(u8(in->r) % 3);
}

static void run(reader *r) {
  run_input in = {.r = r};
  uint32_t verb = u8(r) % 9;
  uint8_t nulls = u8(r) % 8 == 0 ? u8(r) : 0;
  k8sretry_run_result res = {.attempts = 4242};
  k8sretry_status st = k8sretry_run(nulls & 1 ? NULL : zero_delay_policy, "fuzz_run", 8, verb,
                                    nulls & 2 ? NULL : run_attempt, &in, nulls & 4 ? NULL : &res);
  k8sretry_status want = (nulls & 7) ? K8SRETRY_STATUS_NULL_ARGUMENT
                         : verb > 7  ? K8SRETRY_STATUS_INVALID_ARGUMENT
                                     : K8SRETRY_STATUS_OK;
  EXPECT_STATUS(st, want, "run");
  if (st != K8SRETRY_STATUS_OK) {
    EXPECT(res.attempts == 4242 && in.calls == 0, "run started on a bad argument");
    return;
  }
  EXPECT(res.attempts == in.calls && res.attempts >= 1 && res.attempts <= 4, "run: %u attempts, %u calls",
         res.attempts, in.calls);
  EXPECT(res.succeeded == (res.give_up_reason == K8SRETRY_GIVE_UP_NONE), "run: succeeded %d, reason %d",
         res.succeeded, res.give_up_reason);
}

/* ------------------------------------------------------------------ driver */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *json = "{\"max_retries\": 3, \"initial_delay\": 0, \"max_delay\": 0, \"retry_after_cap\": 0, "
                     "\"jitter\": \"none\", \"budget\": null}";
  if (k8sretry_policy_from_json(json, strlen(json), NULL, &zero_delay_policy, NULL, 0) != K8SRETRY_STATUS_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader in = {data, size};
  reader *r = &in;
  world w = {0};
  unsigned steps = 0;
  while (r->n > 0 && steps++ < 128) {
    uint8_t op = u8(r) % 23;
    switch (op) {
      case 0: policy_preset(r, &w); break;
      case 1: policy_from_json(r, &w); break;
      case 2: {
        unsigned i = u8(r) % SLOTS;
        k8sretry_policy_free(w.policies[i]);
        w.policies[i] = NULL;
        break;
      }
      case 3: clocks(r, &w); break;
      case 4: {
        unsigned i = u8(r) % SLOTS;
        k8sretry_failure *f = (k8sretry_failure *)&w;
        bool null_out = u8(r) % 16 == 0;
        k8sretry_status st = k8sretry_failure_new(null_out ? NULL : &f);
        EXPECT_STATUS(st, null_out ? K8SRETRY_STATUS_NULL_ARGUMENT : K8SRETRY_STATUS_OK, "failure_new");
        if (st == K8SRETRY_STATUS_OK) {
          k8sretry_failure_free(w.failures[i]);
          w.failures[i] = f;
        }
        break;
      }
      case 5: {
        unsigned i = u8(r) % SLOTS;
        k8sretry_failure_free(w.failures[i]);
        w.failures[i] = NULL;
        break;
      }
      case 6: case 7: case 8: case 9: {
        unsigned i = slot(r);
        set_failure_field(r, HANDLE(&w, failures, i));
        break;
      }
      case 10: begin_call(r, &w); break;
      case 11: case 12: call_on_failure(r, &w); break;
      case 13: call_on_read_back(r, &w); break;
      case 14: call_on_success(r, &w); break;
      case 15: call_queries(r, &w); break;
      case 21: call_resume(r, &w); break;
      case 16: {
        unsigned i = u8(r) % SLOTS;
        k8sretry_call_free(w.calls[i]);
        w.calls[i] = NULL;
        break;
      }
      case 17: policy_queries(r, &w); break;
      case 18: parse_retry_after(r); break;
      case 19: plan_choose(r, &w); break;
      case 20: {
        uint8_t b = u8(r);
        if (b % 16 == 0) metrics();
        else if (b % 16 == 1) run(r);
        else if (b % 2) EXPECT_STATUS(k8sretry_set_event_callback(on_event, &w), K8SRETRY_STATUS_OK, "callback");
        else EXPECT_STATUS(k8sretry_set_event_callback(NULL, NULL), K8SRETRY_STATUS_OK, "no callback");
        break;
      }
      default: names(r); break;
    }
  }
  EXPECT_STATUS(k8sretry_set_event_callback(NULL, NULL), K8SRETRY_STATUS_OK, "no callback");
  for (unsigned i = 0; i < SLOTS; i++) {
    k8sretry_call_free(w.calls[i]);
    k8sretry_failure_free(w.failures[i]);
    k8sretry_policy_free(w.policies[i]);
    k8sretry_clock_free(w.clocks[i]);
  }
  return 0;
}
