/* Symbols and executors from C: load the MLP's JSON, list and infer, bind to the checkpoint's
 * arrays (MXNDArrayLoad), forward (equal to the predict API), backward; with error paths.
 * Arguments: symbol.json model.params. */
#include <stdbool.h>
#include <stdint.h>

#include <mxr.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long json_len, params_len;
  char *json = read_file(argv[1], &json_len);
  char *params = read_file(argv[2], &params_len);

  SymbolHandle sym = NULL, copy = NULL, bad = NULL;
  OK(MXSymbolCreateFromJSON(json, &sym));
  FAILS(MXSymbolCreateFromJSON("{\"nodes\": 3}", &bad), "MXSymbolCreateFromJSON");
  uint32_t n = 0;
  const char **names = NULL;
  OK(MXSymbolListArguments(sym, &n, &names));
  EXPECT(n == 8 && strcmp(names[0], "data") == 0 && strcmp(names[7], "softmax_label") == 0);
  OK(MXSymbolListOutputs(sym, &n, &names));
  EXPECT(n == 1 && strcmp(names[0], "softmax_output") == 0);
  OK(MXSymbolListAuxiliaryStates(sym, &n, &names));
  EXPECT(n == 0);
  const char *saved = NULL;
  OK(MXSymbolSaveToJSON(sym, &saved));
  OK(MXSymbolCreateFromJSON(saved, &copy));
  OK(MXSymbolListArguments(copy, &n, &names));
  EXPECT(n == 8);
  OK(MXSymbolFree(copy));
  FAILS(MXSymbolListArguments(copy, &n, &names), "already freed");

  /* Shape inference from the data's shape. */
  const char *keys[] = {"data"};
  const uint32_t indptr[] = {0, 2}, shape[] = {2, 784};
  uint32_t in_n, out_n, aux_n;
  const uint32_t *in_ndim, *out_ndim, *aux_ndim;
  const uint32_t **in_data, **out_data, **aux_data;
  int complete = -1;
  OK(MXSymbolInferShape(sym, 1, keys, indptr, shape, &in_n, &in_ndim, &in_data, &out_n, &out_ndim,
                        &out_data, &aux_n, &aux_ndim, &aux_data, &complete));
  EXPECT(complete == 1 && in_n == 8 && out_n == 1 && aux_n == 0);
  EXPECT(in_ndim[1] == 2 && in_data[1][0] == 128 && in_data[1][1] == 784);
  EXPECT(out_ndim[0] == 2 && out_data[0][0] == 2 && out_data[0][1] == 10);
  const char *nokeys[] = {"nope"};
  FAILS(MXSymbolInferShape(sym, 1, nokeys, indptr, shape, &in_n, &in_ndim, &in_data, &out_n,
                           &out_ndim, &out_data, &aux_n, &aux_ndim, &aux_data, &complete), "nope");

  /* Bind to the checkpoint's arrays (file order: fc1..fc3 weights and biases). */
  FILE *f = fopen("mlp.params", "wb");
  fwrite(params, 1, (size_t)params_len, f);
  fclose(f);
  uint32_t n_arr, n_names;
  NDArrayHandle *loaded;
  const char **loaded_names;
  OK(MXNDArrayLoad("mlp.params", &n_arr, &loaded, &n_names, &loaded_names));
  EXPECT(n_arr == 6 && strcmp(loaded_names[0], "arg:fc1_weight") == 0);
  NDArrayHandle args[8], grads[8] = {0};
  for (int i = 0; i < 6; ++i) args[i + 1] = loaded[i];
  const uint32_t label_shape[] = {2};
  OK(MXNDArrayCreate(shape, 2, 1, 0, 0, &args[0]));
  OK(MXNDArrayCreate(label_shape, 1, 1, 0, 0, &args[7]));
  float input[2 * 784];
  for (int i = 0; i < 2 * 784; ++i) input[i] = (float)(i % 255) / 255.0f;
  OK(MXNDArraySyncCopyFromCPU(args[0], input, 2 * 784));
  const uint32_t w3_shape[] = {10, 64};
  OK(MXNDArrayCreate(w3_shape, 2, 1, 0, 0, &grads[5]));
  uint32_t reqs[8] = {0, 0, 0, 0, 0, 1, 0, 0};
  ExecutorHandle exec = NULL;
  OK(MXExecutorBind(sym, 1, 0, 8, args, grads, reqs, 0, NULL, &exec));
  uint32_t bogus_reqs[8] = {9, 0, 0, 0, 0, 0, 0, 0};
  ExecutorHandle other = NULL;
  FAILS(MXExecutorBind(sym, 1, 0, 8, args, grads, bogus_reqs, 0, NULL, &other), "grad_req_type 9");
  FAILS(MXExecutorBind(sym, 1, 0, 7, args, grads, reqs, 0, NULL, &other), "MXExecutorBind");

  /* Forward equals the predict API on the same input. */
  OK(MXExecutorForward(exec, 0));
  NDArrayHandle *outs;
  OK(MXExecutorOutputs(exec, &n, &outs));
  EXPECT(n == 1);
  float got[20], want[20];
  OK(MXNDArraySyncCopyToCPU(outs[0], got, 20));
  OK(MXNDArrayFree(outs[0]));
  PredictorHandle pred;
  OK(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, &pred));
  OK(MXPredSetInput(pred, "data", input, 2 * 784));
  OK(MXPredForward(pred));
  OK(MXPredGetOutput(pred, 0, want, 20));
  OK(MXPredFree(pred));
  for (int i = 0; i < 20; ++i) EXPECT(got[i] - want[i] < 1e-6f && want[i] - got[i] < 1e-6f);

  /* Backward: SoftmaxOutput is a loss, so no head gradient; fc3_weight's gradient is set. */
  OK(MXExecutorForward(exec, 1));
  OK(MXExecutorBackward(exec, 0, NULL));
  float g[640];
  OK(MXNDArraySyncCopyToCPU(grads[5], g, 640));
  float norm = 0;
  for (int i = 0; i < 640; ++i) norm += g[i] * g[i];
  EXPECT(norm > 0);

  OK(MXExecutorFree(exec));
  FAILS(MXExecutorForward(exec, 0), "already freed");
  FAILS(MXExecutorFree(exec), "already freed");
  for (int i = 0; i < 8; ++i) OK(MXNDArrayFree(args[i]));
  OK(MXNDArrayFree(grads[5]));
  OK(MXSymbolFree(sym));
  free(json);
  free(params);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("all checks passed\n");
  return failures;
}
