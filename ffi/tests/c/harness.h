/* A minimal test harness: CHECK counts, the summary line is "N passed, N failed". */
#ifndef K8SRETRY_TEST_HARNESS_H
#define K8SRETRY_TEST_HARNESS_H

#include <stdio.h>

static int harness_passed = 0;
static int harness_failed = 0;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (cond) {                                                            \
      harness_passed++;                                                    \
    } else {                                                               \
      harness_failed++;                                                    \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                        \
      fprintf(stderr, "\n");                                               \
    }                                                                      \
  } while (0)

#define CHECK_OK(expr) CHECK((expr) == K8SRETRY_STATUS_OK, "status %d", (int)(expr))

static int harness_finish(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, harness_passed, harness_failed);
  return harness_failed == 0 ? 0 : 1;
}

#endif
