/* Calls every function of libmxr's C API at least once, with each error path: bad handle,
 * freed handle, wrong-kind handle, bad shape, unknown input name, wrong buffer size.
 * Arguments: symbol.json model.params. Exit status: the number of failed checks. */
#include <stdbool.h>
#include <stdint.h>

#include <mxr.h>

#include "common.h"

static int monitor_calls = 0;
static int monitor_saw_softmax = 0;

static void monitor(const char *name, NDArrayHandle nd, void *user) {
  ++monitor_calls;
  if (strcmp(name, "softmax_output") == 0) monitor_saw_softmax = 1;
  uint32_t ndim;
  const uint32_t *dims;
  if (MXNDArrayGetShape(nd, &ndim, &dims) != 0 || ndim == 0) ++*(int *)user;
  if (MXNDArrayFree(nd) != 0) ++*(int *)user;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long json_len, params_len;
  char *json = read_file(argv[1], &json_len);
  char *params = read_file(argv[2], &params_len);
  const char *keys[] = {"data"};
  const uint32_t indptr[] = {0, 2};
  const uint32_t shape[] = {2, 784};
  float input[2 * 784], output[2 * 10];
  for (int i = 0; i < 2 * 784; ++i) input[i] = (float)(i % 255) / 255.0f;

  EXPECT(strcmp(MXGetLastError(), "") == 0);
  PredictorHandle pred = NULL, other = NULL, reshaped = NULL;
  OK(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, &pred));

  /* Creation errors. */
  const char *bad_keys[] = {"nope"};
  FAILS(MXPredCreate(json, params, (int)params_len, 1, 0, 1, bad_keys, indptr, shape, &other), "no input named `nope`");
  const uint32_t bad_shape[] = {2, 783};
  FAILS(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, bad_shape, &other), "fc1_weight");
  FAILS(MXPredCreate("{not json", params, (int)params_len, 1, 0, 1, keys, indptr, shape, &other), "MXPredCreate");
  FAILS(MXPredCreate(json, params, 10, 1, 0, 1, keys, indptr, shape, &other), "MXPredCreate");
  FAILS(MXPredCreate(json, params, (int)params_len, 7, 0, 1, keys, indptr, shape, &other), "unknown device type 7");
  FAILS(MXPredCreate(NULL, params, (int)params_len, 1, 0, 1, keys, indptr, shape, &other), "null pointer");
  FAILS(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, NULL), "null pointer");

  /* Shapes, types, inputs, forward, outputs. */
  uint32_t *out_shape, out_ndim;
  OK(MXPredGetOutputShape(pred, 0, &out_shape, &out_ndim));
  EXPECT(out_ndim == 2 && out_shape[0] == 2 && out_shape[1] == 10);
  FAILS(MXPredGetOutputShape(pred, 1, &out_shape, &out_ndim), "out of range");
  int dtype = -1;
  OK(MXPredGetOutputType(pred, 0, &dtype));
  EXPECT(dtype == 0);
  FAILS(MXPredGetOutputType(pred, 5, &dtype), "out of range");
  OK(MXPredSetInput(pred, "data", input, 2 * 784));
  FAILS(MXPredSetInput(pred, "data", input, 784), "the buffer has 784");
  FAILS(MXPredSetInput(pred, "fc1_weight", input, 784), "not an input");
  FAILS(MXPredSetInput(pred, "data", NULL, 2 * 784), "null pointer");
  OK(MXPredForward(pred));
  OK(MXPredGetOutput(pred, 0, output, 20));
  float sum = 0;
  for (int i = 0; i < 10; ++i) sum += output[i];
  EXPECT(sum > 0.999f && sum < 1.001f);
  FAILS(MXPredGetOutput(pred, 0, output, 19), "the buffer has 19");
  FAILS(MXPredGetOutput(pred, 3, output, 20), "out of range");
  int step_left = -1;
  OK(MXPredPartialForward(pred, 0, &step_left));
  EXPECT(step_left == 0);
  FAILS(MXPredPartialForward(pred, -1, &step_left), "negative step");
  float again[20];
  OK(MXPredGetOutput(pred, 0, again, 20));
  EXPECT(memcmp(again, output, sizeof again) == 0);

  /* Monitor callback: the output (and, with monitor_all, the arguments). */
  int monitor_errors = 0;
  OK(MXPredSetMonitorCallback(pred, monitor, &monitor_errors, true));
  OK(MXPredForward(pred));
  /* The 8 arguments (data, three weights and biases, softmax_label) and the output. */
  EXPECT(monitor_calls == 9 && monitor_saw_softmax && monitor_errors == 0);
  OK(MXPredSetMonitorCallback(pred, NULL, NULL, false));
  OK(MXPredForward(pred));
  EXPECT(monitor_calls == 9);

  /* Reshape to batch 1: the first row's output is the same. */
  const uint32_t one[] = {1, 784};
  OK(MXPredReshape(1, keys, indptr, one, pred, &reshaped));
  OK(MXPredSetInput(reshaped, "data", input, 784));
  OK(MXPredForward(reshaped));
  float row[10];
  OK(MXPredGetOutput(reshaped, 0, row, 10));
  for (int i = 0; i < 10; ++i) EXPECT(row[i] - output[i] < 1e-5f && output[i] - row[i] < 1e-5f);
  FAILS(MXPredReshape(1, bad_keys, indptr, one, pred, &other), "not an input");
  OK(MXPredFree(reshaped));

  /* Partial outputs, explicit dtypes, several threads' predictors. */
  const char *outs[] = {"fc1", "relu2"};
  OK(MXPredCreatePartialOut(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 2, outs, &other));
  OK(MXPredGetOutputShape(other, 1, &out_shape, &out_ndim));
  EXPECT(out_ndim == 2 && out_shape[1] == 64);
  OK(MXPredFree(other));
  const char *missing[] = {"no_such_layer"};
  FAILS(MXPredCreatePartialOut(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 1, missing, &other), "no_such_layer_output");
  const char *dtype_names[] = {"data"};
  const int f64[] = {1}, bogus[] = {42};
  OK(MXPredCreateEx(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 1, dtype_names, f64, &other));
  OK(MXPredSetInput(other, "data", input, 2 * 784));
  OK(MXPredForward(other));
  OK(MXPredGetOutput(other, 0, again, 20));
  for (int i = 0; i < 20; ++i) EXPECT(again[i] - output[i] < 1e-4f && output[i] - again[i] < 1e-4f);
  OK(MXPredFree(other));
  FAILS(MXPredCreateEx(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 1, dtype_names, bogus, &other), "unknown dtype flag 42");
  PredictorHandle many[3];
  OK(MXPredCreateMultiThread(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 3, many));
  for (int i = 0; i < 3; ++i) OK(MXPredFree(many[i]));
  FAILS(MXPredCreateMultiThread(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, 0, many), "must be positive");

  /* NDList: the parameter file's six arrays. */
  NDListHandle list = NULL;
  uint32_t length = 0;
  OK(MXNDListCreate(params, (int)params_len, &list, &length));
  EXPECT(length == 6);
  const char *key;
  const float *data;
  const uint32_t *dims;
  uint32_t ndim;
  OK(MXNDListGet(list, 0, &key, &data, &dims, &ndim));
  EXPECT(strcmp(key, "arg:fc1_weight") == 0 && ndim == 2 && dims[0] == 128 && dims[1] == 784);
  FAILS(MXNDListGet(list, 6, &key, &data, &dims, &ndim), "out of range");
  FAILS(MXNDListCreate(params, 5, &list, &length), "MXNDListCreate");
  FAILS(MXPredForward(list), "not a handle of this kind");
  OK(MXNDListFree(list));
  FAILS(MXNDListFree(list), "already freed");

  /* NDArray functions. */
  NDArrayHandle nd = NULL;
  const uint32_t nd_shape[] = {2, 3};
  OK(MXNDArrayCreate(nd_shape, 2, 1, 0, 0, &nd));
  const float values[6] = {1, 2, 3, 4, 5, 6};
  float back[6] = {0};
  OK(MXNDArraySyncCopyFromCPU(nd, values, 6));
  OK(MXNDArrayWaitAll());
  OK(MXNDArraySyncCopyToCPU(nd, back, 6));
  EXPECT(memcmp(values, back, sizeof back) == 0);
  FAILS(MXNDArraySyncCopyToCPU(nd, back, 5), "size is 5");
  OK(MXNDArrayGetDType(nd, &dtype));
  EXPECT(dtype == 0);
  OK(MXNDArrayGetShape(nd, &ndim, &dims));
  EXPECT(ndim == 2 && dims[0] == 2 && dims[1] == 3);
  OK(MXNDArrayFree(nd));
  FAILS(MXNDArrayGetDType(nd, &dtype), "already freed");
  NDArrayHandle i32 = NULL;
  OK(MXNDArrayCreateEx(nd_shape, 2, 1, 0, 0, 4, &i32));
  OK(MXNDArrayGetDType(i32, &dtype));
  EXPECT(dtype == 4);
  OK(MXNDArrayFree(i32));

  /* Bad, forged and freed predictor handles. */
  OK(MXPredFree(pred));
  FAILS(MXPredForward(pred), "already freed");
  FAILS(MXPredFree(pred), "already freed");
  FAILS(MXPredSetInput(pred, "data", input, 2 * 784), "already freed");
  FAILS(MXPredGetOutput(pred, 0, output, 20), "already freed");
  FAILS(MXPredForward(NULL), "null handle");
  FAILS(MXPredForward((PredictorHandle)0x12345678), "not a handle of this kind");
  FAILS(MXPredFree((PredictorHandle)((uintptr_t)1 << 56 | (uintptr_t)999 << 32 | 1)), "no such handle");

  free(json);
  free(params);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("all checks passed\n");
  return failures;
}
