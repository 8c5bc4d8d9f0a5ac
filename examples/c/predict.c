/*
 * Classifies Fashion-MNIST test images with MXNet's predict API (libmxr) and prints the
 * accuracy. Build and run (the dataset's .gz files decompressed first):
 *
 *   cc -std=c99 -I capi/include examples/c/predict.c -L target/debug -lmxr -o predict
 *   LD_LIBRARY_PATH=target/debug ./predict model-symbol.json model-0003.params \
 *       t10k-images-idx3-ubyte t10k-labels-idx1-ubyte [batch]
 *
 * Pixels are scaled to [0, 1] and each image is a row of 784 values, as the model was trained.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mxnet/c_predict_api.h>

/* The whole file at `path` (NUL-terminated), its length in *size. */
static char *read_file(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return NULL; }
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(*size + 1);
  if (buf && fread(buf, 1, *size, f) != (size_t)*size) { free(buf); buf = NULL; }
  fclose(f);
  if (buf) buf[*size] = 0;
  return buf;
}

static uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != 0) {                                               \
      fprintf(stderr, "%s failed: %s\n", #call, MXGetLastError());   \
      return 1;                                                      \
    }                                                                \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s symbol.json model.params images-idx3 labels-idx1 [batch]\n", argv[0]);
    return 2;
  }
  uint32_t batch = argc > 5 ? (uint32_t)atoi(argv[5]) : 100;
  long json_len, params_len, images_len, labels_len;
  char *json = read_file(argv[1], &json_len);
  char *params = read_file(argv[2], &params_len);
  unsigned char *images = (unsigned char *)read_file(argv[3], &images_len);
  unsigned char *labels = (unsigned char *)read_file(argv[4], &labels_len);
  if (!json || !params || !images || !labels) return 1;
  if (images_len < 16 || be32(images) != 0x803 || labels_len < 8 || be32(labels) != 0x801) {
    fprintf(stderr, "not IDX image and label files\n");
    return 1;
  }
  uint32_t count = be32(images + 4), pixels = be32(images + 8) * be32(images + 12);
  if (be32(labels + 4) != count || (long)(16 + (long)count * pixels) > images_len || batch == 0) {
    fprintf(stderr, "inconsistent image and label files\n");
    return 1;
  }

  const char *keys[] = {"data"};
  const uint32_t indptr[] = {0, 2};
  const uint32_t shape[] = {batch, pixels};
  PredictorHandle pred = NULL;
  CHECK(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, &pred));

  uint32_t *out_shape, out_ndim;
  CHECK(MXPredGetOutputShape(pred, 0, &out_shape, &out_ndim));
  uint32_t classes = out_shape[out_ndim - 1];
  float *input = malloc(sizeof(float) * batch * pixels);
  float *output = malloc(sizeof(float) * batch * classes);
  uint32_t correct = 0, seen = 0;
  for (uint32_t start = 0; start + batch <= count; start += batch) {
    for (uint32_t i = 0; i < batch * pixels; ++i)
      input[i] = images[16 + (size_t)start * pixels + i] / 255.0f;
    CHECK(MXPredSetInput(pred, "data", input, batch * pixels));
    CHECK(MXPredForward(pred));
    CHECK(MXPredGetOutput(pred, 0, output, batch * classes));
    for (uint32_t b = 0; b < batch; ++b) {
      uint32_t best = 0;
      for (uint32_t c = 1; c < classes; ++c)
        if (output[b * classes + c] > output[b * classes + best]) best = c;
      correct += best == labels[8 + start + b];
      ++seen;
    }
  }
  CHECK(MXPredFree(pred));
  printf("correct %u of %u\naccuracy %.4f\n", correct, seen, seen ? (double)correct / seen : 0.0);
  free(input); free(output); free(json); free(params); free(images); free(labels);
  return 0;
}
