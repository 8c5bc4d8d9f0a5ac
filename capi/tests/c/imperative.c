/* Operators by name (NNGetOpHandle, MXImperativeInvoke) and .params files (MXNDArraySave,
 * MXNDArrayLoad) from C, with their error paths. Argument: a scratch file path. */
#include <stdbool.h>
#include <stdint.h>

#include <mxr.h>

#include "common.h"

static NDArrayHandle array(const float *values, uint32_t rows, uint32_t cols) {
  const uint32_t shape[] = {rows, cols};
  NDArrayHandle nd = NULL;
  OK(MXNDArrayCreate(shape, 2, 1, 0, 0, &nd));
  OK(MXNDArraySyncCopyFromCPU(nd, values, (size_t)rows * cols));
  return nd;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const float xs[] = {1, -2, 3, -4};
  const float ys[] = {10, 20, 30, 40};
  NDArrayHandle x = array(xs, 2, 2), y = array(ys, 2, 2);
  float out[4];

  OpHandle act = NULL, add = NULL, again = NULL, bogus = NULL;
  OK(NNGetOpHandle("Activation", &act));
  OK(NNGetOpHandle("Activation", &again));
  EXPECT(act == again);
  OK(NNGetOpHandle("elemwise_add", &add));
  FAILS(NNGetOpHandle("NoSuchOperator", &bogus), "NoSuchOperator");

  /* New outputs. */
  const char *keys[] = {"act_type"};
  const char *relu[] = {"relu"};
  int num_out = 0;
  NDArrayHandle *outs = NULL;
  OK(MXImperativeInvoke(act, 1, &x, &num_out, &outs, 1, keys, relu));
  EXPECT(num_out == 1);
  OK(MXNDArraySyncCopyToCPU(outs[0], out, 4));
  EXPECT(out[0] == 1 && out[1] == 0 && out[2] == 3 && out[3] == 0);
  OK(MXNDArrayFree(outs[0]));

  /* Into a given output. */
  NDArrayHandle inputs[] = {x, y};
  NDArrayHandle sum = array(xs, 2, 2);
  NDArrayHandle given[] = {sum};
  NDArrayHandle *given_ptr = given;
  num_out = 1;
  OK(MXImperativeInvoke(add, 2, inputs, &num_out, &given_ptr, 0, NULL, NULL));
  OK(MXNDArraySyncCopyToCPU(sum, out, 4));
  EXPECT(out[0] == 11 && out[1] == 18 && out[2] == 33 && out[3] == 36);

  /* Errors: a bad attribute, a wrong input count, a freed input, a bad operator handle. */
  const char *bad[] = {"ReLU"};
  outs = NULL;
  FAILS(MXImperativeInvoke(act, 1, &x, &num_out, &outs, 1, keys, bad), "act_type");
  outs = NULL;
  FAILS(MXImperativeInvoke(add, 1, &x, &num_out, &outs, 0, NULL, NULL), "elemwise_add");
  NDArrayHandle gone = array(xs, 2, 2);
  OK(MXNDArrayFree(gone));
  outs = NULL;
  FAILS(MXImperativeInvoke(act, 1, &gone, &num_out, &outs, 1, keys, relu), "already freed");
  FAILS(MXImperativeInvoke(x, 1, &x, &num_out, &outs, 1, keys, relu), "not a handle of this kind");

  /* Save named, load back. */
  const char *names[] = {"arg:x", "arg:sum"};
  NDArrayHandle both[] = {x, sum};
  OK(MXNDArraySave(argv[1], 2, both, names));
  uint32_t n_arr = 0, n_names = 0;
  NDArrayHandle *loaded = NULL;
  const char **loaded_names = NULL;
  OK(MXNDArrayLoad(argv[1], &n_arr, &loaded, &n_names, &loaded_names));
  EXPECT(n_arr == 2 && n_names == 2);
  if (n_arr == 2 && n_names == 2) {
    EXPECT(strcmp(loaded_names[0], "arg:x") == 0 && strcmp(loaded_names[1], "arg:sum") == 0);
    OK(MXNDArraySyncCopyToCPU(loaded[1], out, 4));
    EXPECT(out[0] == 11 && out[3] == 36);
    OK(MXNDArrayFree(loaded[0]));
    OK(MXNDArrayFree(loaded[1]));
  }
  /* A list, and a missing file. */
  OK(MXNDArraySave(argv[1], 1, &x, NULL));
  OK(MXNDArrayLoad(argv[1], &n_arr, &loaded, &n_names, &loaded_names));
  EXPECT(n_arr == 1 && n_names == 0);
  if (n_arr == 1) OK(MXNDArrayFree(loaded[0]));
  FAILS(MXNDArrayLoad("/nonexistent/mxr.params", &n_arr, &loaded, &n_names, &loaded_names), "MXNDArrayLoad");

  OK(MXNDArrayFree(x));
  OK(MXNDArrayFree(y));
  OK(MXNDArrayFree(sum));
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("all checks passed\n");
  return failures;
}
