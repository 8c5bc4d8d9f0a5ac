/* Loads an operator plugin (MXLoadLib) and runs its operator by name from C.
 * Argument: the swish example plugin's library. */
#include <stdbool.h>
#include <stdint.h>

#include <mxr.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FAILS(MXLoadLib("/nonexistent/libplugin.so", 0), "/nonexistent/libplugin.so");
  OpHandle swish = NULL;
  FAILS(NNGetOpHandle("swish", &swish), "swish");
  OK(MXLoadLib(argv[1], 0));
  OK(NNGetOpHandle("swish", &swish));

  const uint32_t shape[] = {2};
  const float xs[] = {0, 1};
  NDArrayHandle x = NULL;
  OK(MXNDArrayCreate(shape, 1, 1, 0, 0, &x));
  OK(MXNDArraySyncCopyFromCPU(x, xs, 2));
  const char *keys[] = {"beta"}, *vals[] = {"1.0"};
  int n = 0;
  NDArrayHandle *outs = NULL;
  OK(MXImperativeInvoke(swish, 1, &x, &n, &outs, 1, keys, vals));
  float got[2] = {-1, -1};
  if (n == 1) {
    OK(MXNDArraySyncCopyToCPU(outs[0], got, 2));
    OK(MXNDArrayFree(outs[0]));
  }
  /* swish(x) = x * sigmoid(x): 0 and 0.7310586. */
  EXPECT(n == 1 && got[0] == 0 && got[1] > 0.73105f && got[1] < 0.73106f);
  OK(MXNDArrayFree(x));
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("all checks passed\n");
  return failures;
}
