/* Helpers shared by the C test programs: reading files and checking calls. */
#ifndef MXR_TEST_COMMON_H_
#define MXR_TEST_COMMON_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

/* The whole file at `path`, its length in *size; exits on failure. */
static inline char *read_file(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(*size + 1);
  if (!buf || fread(buf, 1, *size, f) != (size_t)*size) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
  fclose(f);
  buf[*size] = 0;
  return buf;
}

/* The call must succeed. */
#define OK(call)                                                                  \
  do {                                                                            \
    if ((call) != 0) {                                                            \
      fprintf(stderr, "line %d: %s failed: %s\n", __LINE__, #call, MXGetLastError()); \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

/* The call must fail with -1 and a last error containing `needle`. */
#define FAILS(call, needle)                                                       \
  do {                                                                            \
    int rc_ = (call);                                                             \
    if (rc_ != -1) {                                                              \
      fprintf(stderr, "line %d: %s returned %d, expected -1\n", __LINE__, #call, rc_); \
      ++failures;                                                                 \
    } else if (!strstr(MXGetLastError(), (needle))) {                             \
      fprintf(stderr, "line %d: %s: error `%s` lacks `%s`\n", __LINE__, #call,    \
              MXGetLastError(), (needle));                                        \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "line %d: expected %s\n", __LINE__, #cond);                 \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

#endif
