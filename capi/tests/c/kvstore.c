/* The KVStore from C: create, init, push (two arrays for one key are summed), pull, and the
 * error paths (unknown type, unknown key, freed store). */
#include <stdbool.h>
#include <stdint.h>

#include <mxr.h>

#include "common.h"

static NDArrayHandle array(const float *values) {
  const uint32_t shape[] = {4};
  NDArrayHandle nd = NULL;
  OK(MXNDArrayCreate(shape, 1, 1, 0, 0, &nd));
  OK(MXNDArraySyncCopyFromCPU(nd, values, 4));
  return nd;
}

int main(void) {
  const float init[] = {1, 2, 3, 4}, a[] = {10, 20, 30, 40}, b[] = {100, 200, 300, 400};
  const float zeros[] = {0, 0, 0, 0};
  KVStoreHandle kv = NULL, bad = NULL;
  OK(MXKVStoreCreate("local", &kv));
  FAILS(MXKVStoreCreate("no_such_store", &bad), "no_such_store");

  NDArrayHandle x = array(init), y = array(a), z = array(b), out = array(zeros), out2 = array(zeros);
  const int key[] = {3};
  OK(MXKVStoreInit(kv, 1, key, &x));
  float got[4];
  OK(MXKVStorePull(kv, 1, key, &out, 0));
  OK(MXNDArraySyncCopyToCPU(out, got, 4));
  EXPECT(got[0] == 1 && got[3] == 4);

  /* Two values for key 3 in one push: the store holds their sum (no updater). */
  const int twice[] = {3, 3};
  NDArrayHandle pushed[] = {y, z};
  OK(MXKVStorePush(kv, 2, twice, pushed, 0));
  NDArrayHandle outs[] = {out, out2};
  OK(MXKVStorePull(kv, 2, twice, outs, 0));
  OK(MXNDArraySyncCopyToCPU(out, got, 4));
  EXPECT(got[0] == 110 && got[1] == 220 && got[2] == 330 && got[3] == 440);
  OK(MXNDArraySyncCopyToCPU(out2, got, 4));
  EXPECT(got[0] == 110 && got[3] == 440);

  const int unknown[] = {99};
  FAILS(MXKVStorePull(kv, 1, unknown, &out, 0), "99");
  FAILS(MXKVStoreInit(kv, 2, twice, pushed), "init takes one");

  OK(MXKVStoreFree(kv));
  FAILS(MXKVStorePush(kv, 1, key, &y, 0), "already freed");
  NDArrayHandle all[] = {x, y, z, out, out2};
  for (int i = 0; i < 5; ++i) OK(MXNDArrayFree(all[i]));
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("all checks passed\n");
  return failures;
}
