/*
 * libmxr's C API: MXNet 1.9.1's predict API (mxnet/c_predict_api.h) and the NDArray
 * functions of MXNet's c_api.h below, with MXNet's exact names and signatures.
 * Every function returns 0 on success and -1 on failure (message: MXGetLastError()).
 */
#ifndef MXR_H_
#define MXR_H_

#include <stddef.h>
#include <stdint.h>

#include "mxnet/c_predict_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*! \brief a zero-filled float32 array on a device (dev_type 1 = cpu, 2 = gpu) */
MXNET_DLL int MXNDArrayCreate(const uint32_t *shape, uint32_t ndim, int dev_type, int dev_id,
                              int delay_alloc, NDArrayHandle *out);
/*! \brief a zero-filled array of an element type (MXNet's type flag) */
MXNET_DLL int MXNDArrayCreateEx(const uint32_t *shape, uint32_t ndim, int dev_type, int dev_id,
                                int delay_alloc, int dtype, NDArrayHandle *out);
/*! \brief copy size elements (of the array's type) from host memory into the array */
MXNET_DLL int MXNDArraySyncCopyFromCPU(NDArrayHandle handle, const void *data, size_t size);
/*! \brief copy the array's size elements (of its type) to host memory */
MXNET_DLL int MXNDArraySyncCopyToCPU(NDArrayHandle handle, void *data, size_t size);
/*! \brief wait for every pushed operation */
MXNET_DLL int MXNDArrayWaitAll();
/*! \brief free an array handle */
MXNET_DLL int MXNDArrayFree(NDArrayHandle handle);
/*! \brief the array's shape, valid until this thread's next call */
MXNET_DLL int MXNDArrayGetShape(NDArrayHandle handle, uint32_t *out_dim,
                                const uint32_t **out_pdata);
/*! \brief the array's element type (MXNet's type flag) */
MXNET_DLL int MXNDArrayGetDType(NDArrayHandle handle, int *out_dtype);

/*! \brief an operator of the registry (nnvm's OpHandle; MXNet's AtomicSymbolCreator) */
typedef void *OpHandle;
typedef void *AtomicSymbolCreator;
/*! \brief the handle of the registry operator op_name (an MXNet name or alias); handles
 *  live as long as the process */
MXNET_DLL int NNGetOpHandle(const char *op_name, OpHandle *op_out);
/*! \brief run an operator on arrays with string attributes: with *outputs NULL, *outputs
 *  gets *num_outputs new handles (the caller frees each; the handle array is valid until this
 *  thread's next call); otherwise the results are written into the *num_outputs given arrays */
MXNET_DLL int MXImperativeInvoke(AtomicSymbolCreator creator, int num_inputs,
                                 NDArrayHandle *inputs, int *num_outputs,
                                 NDArrayHandle **outputs, int num_params,
                                 const char **param_keys, const char **param_vals);
/*! \brief save arrays to a .params file, named when keys is not NULL */
MXNET_DLL int MXNDArraySave(const char *fname, uint32_t num_args, NDArrayHandle *args,
                            const char **keys);
/*! \brief load a .params file: new handles (the caller frees each) and names (none for a
 *  list), valid until this thread's next call */
MXNET_DLL int MXNDArrayLoad(const char *fname, uint32_t *out_size, NDArrayHandle **out_arr,
                            uint32_t *out_name_size, const char ***out_names);

/*! \brief handles to a symbol and an executor */
typedef void *SymbolHandle;
typedef void *ExecutorHandle;
/*! \brief load a symbol from its JSON */
MXNET_DLL int MXSymbolCreateFromJSON(const char *json, SymbolHandle *out);
/*! \brief the symbol's JSON, valid until this thread's next call */
MXNET_DLL int MXSymbolSaveToJSON(SymbolHandle symbol, const char **out_json);
/*! \brief names of the arguments, outputs, auxiliary states; valid until this thread's next
 *  call */
MXNET_DLL int MXSymbolListArguments(SymbolHandle symbol, uint32_t *out_size,
                                    const char ***out_str_array);
MXNET_DLL int MXSymbolListOutputs(SymbolHandle symbol, uint32_t *out_size,
                                  const char ***out_str_array);
MXNET_DLL int MXSymbolListAuxiliaryStates(SymbolHandle symbol, uint32_t *out_size,
                                          const char ***out_str_array);
/*! \brief free a symbol */
MXNET_DLL int MXSymbolFree(SymbolHandle symbol);
/*! \brief infer every shape from some arguments' shapes (CSR form); *complete is 1 when all
 *  are known; the arrays are valid until this thread's next call */
MXNET_DLL int MXSymbolInferShape(SymbolHandle sym, uint32_t num_args, const char **keys,
                                 const uint32_t *arg_ind_ptr, const uint32_t *arg_shape_data,
                                 uint32_t *in_shape_size, const uint32_t **in_shape_ndim,
                                 const uint32_t ***in_shape_data, uint32_t *out_shape_size,
                                 const uint32_t **out_shape_ndim,
                                 const uint32_t ***out_shape_data, uint32_t *aux_shape_size,
                                 const uint32_t **aux_shape_ndim,
                                 const uint32_t ***aux_shape_data, int *complete);
/*! \brief bind a symbol to arrays: len arguments, their gradient arrays (NULL where none)
 *  and requests (0 null, 1 write, 2 in-place write, 3 add), the auxiliary states */
MXNET_DLL int MXExecutorBind(SymbolHandle symbol_handle, int dev_type, int dev_id, uint32_t len,
                             NDArrayHandle *in_args, NDArrayHandle *arg_grad_store,
                             uint32_t *grad_req_type, uint32_t aux_states_len,
                             NDArrayHandle *aux_states, ExecutorHandle *out);
/*! \brief forward pass (is_train nonzero: training mode) */
MXNET_DLL int MXExecutorForward(ExecutorHandle handle, int is_train);
/*! \brief backward pass with len head gradients (0 when every output is a loss) */
MXNET_DLL int MXExecutorBackward(ExecutorHandle handle, uint32_t len, NDArrayHandle *head_grads);
/*! \brief the outputs as new handles (the caller frees each); the array is valid until this
 *  thread's next call */
MXNET_DLL int MXExecutorOutputs(ExecutorHandle handle, uint32_t *out_size, NDArrayHandle **out);
/*! \brief free an executor */
MXNET_DLL int MXExecutorFree(ExecutorHandle handle);

/*! \brief load an operator plugin library (mx.library.load); its operators join the
 *  registry; verbose nonzero prints them */
MXNET_DLL int MXLoadLib(const char *path, unsigned verbose);

/*! \brief handle to a KVStore */
typedef void *KVStoreHandle;
/*! \brief create a store of a type ("local", "device", ...) */
MXNET_DLL int MXKVStoreCreate(const char *type, KVStoreHandle *out);
/*! \brief free a store */
MXNET_DLL int MXKVStoreFree(KVStoreHandle handle);
/*! \brief initialise num keys, one array each */
MXNET_DLL int MXKVStoreInit(KVStoreHandle handle, uint32_t num, const int *keys,
                            NDArrayHandle *vals);
/*! \brief push num (key, array) pairs; the arrays given for one key are summed */
MXNET_DLL int MXKVStorePush(KVStoreHandle handle, uint32_t num, const int *keys,
                            NDArrayHandle *vals, int priority);
/*! \brief pull num keys into arrays (waits for the values) */
MXNET_DLL int MXKVStorePull(KVStoreHandle handle, uint32_t num, const int *keys,
                            NDArrayHandle *vals, int priority);

#ifdef __cplusplus
}
#endif

#endif  /* MXR_H_ */
