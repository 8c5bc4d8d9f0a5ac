/* Four predictors (MXPredCreateMultiThread) on four threads at once, each classifying its own
 * batches, must give bit for bit what one predictor gives on one thread.
 * Arguments: symbol.json model.params. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mxnet/c_predict_api.h>

#include "common.h"

#define THREADS 4
#define BATCHES 8 /* per thread */
#define BATCH 16
#define PIXELS 784
#define CLASSES 10

static float inputs[THREADS * BATCHES][BATCH * PIXELS];
static float single[THREADS * BATCHES][BATCH * CLASSES];
static float parallel[THREADS * BATCHES][BATCH * CLASSES];

struct job {
  PredictorHandle pred;
  int first; /* first batch */
  float (*out)[BATCH * CLASSES];
  int rc;
};

static void *run(void *arg) {
  struct job *job = arg;
  for (int b = job->first; b < job->first + BATCHES; ++b) {
    if (MXPredSetInput(job->pred, "data", inputs[b], BATCH * PIXELS) != 0 ||
        MXPredForward(job->pred) != 0 ||
        MXPredGetOutput(job->pred, 0, job->out[b], BATCH * CLASSES) != 0) {
      fprintf(stderr, "batch %d: %s\n", b, MXGetLastError());
      job->rc = 1;
      return NULL;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long json_len, params_len;
  char *json = read_file(argv[1], &json_len);
  char *params = read_file(argv[2], &params_len);
  for (int b = 0; b < THREADS * BATCHES; ++b)
    for (int i = 0; i < BATCH * PIXELS; ++i) inputs[b][i] = (float)((b * 7919 + i * 31) % 256) / 255.0f;
  const char *keys[] = {"data"};
  const uint32_t indptr[] = {0, 2};
  const uint32_t shape[] = {BATCH, PIXELS};

  PredictorHandle one;
  OK(MXPredCreate(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, &one));
  for (int t = 0; t < THREADS; ++t) {
    struct job job = {one, t * BATCHES, single, 0};
    run(&job);
    EXPECT(job.rc == 0);
  }
  OK(MXPredFree(one));

  PredictorHandle preds[THREADS];
  OK(MXPredCreateMultiThread(json, params, (int)params_len, 1, 0, 1, keys, indptr, shape, THREADS, preds));
  pthread_t threads[THREADS];
  struct job jobs[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    jobs[t] = (struct job){preds[t], t * BATCHES, parallel, 0};
    EXPECT(pthread_create(&threads[t], NULL, run, &jobs[t]) == 0);
  }
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(threads[t], NULL);
    EXPECT(jobs[t].rc == 0);
    OK(MXPredFree(preds[t]));
  }
  EXPECT(memcmp(single, parallel, sizeof single) == 0);
  free(json);
  free(params);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("4 threads equal 1 thread\n");
  return failures;
}
