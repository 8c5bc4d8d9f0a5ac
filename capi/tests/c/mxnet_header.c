/* A predict-API program as written for MXNet: it includes MXNet's own c_predict_api.h (from
 * the mxnet wheel; that header includes nothing, so the program includes stdint and stdbool
 * first) and links to libmxr. Arguments: symbol.json model.params. Prints the output row. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mxnet/c_predict_api.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  char json[1 << 16];
  size_t n = fread(json, 1, sizeof json - 1, f);
  json[n] = 0;
  fclose(f);
  f = fopen(argv[2], "rb");
  if (!f) return 2;
  static char params[1 << 20];
  int size = (int)fread(params, 1, sizeof params, f);
  fclose(f);

  const char *keys[] = {"data"};
  const mx_uint indptr[] = {0, 2};
  const mx_uint shape[] = {1, 784};
  mx_float input[784];
  for (int i = 0; i < 784; ++i) input[i] = (mx_float)(i % 256) / 255.0f;
  PredictorHandle pred;
  mx_uint *out_shape, ndim;
  mx_float out[10];
  if (MXPredCreate(json, params, size, 1, 0, 1, keys, indptr, shape, &pred) != 0 ||
      MXPredGetOutputShape(pred, 0, &out_shape, &ndim) != 0 || ndim != 2 || out_shape[1] != 10 ||
      MXPredSetInput(pred, "data", input, 784) != 0 || MXPredForward(pred) != 0 ||
      MXPredGetOutput(pred, 0, out, 10) != 0 || MXPredFree(pred) != 0) {
    fprintf(stderr, "failed: %s\n", MXGetLastError());
    return 1;
  }
  for (int i = 0; i < 10; ++i) printf("%.6f\n", out[i]);
  return 0;
}
