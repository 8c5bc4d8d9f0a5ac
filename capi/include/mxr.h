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

#ifdef __cplusplus
}
#endif

#endif  /* MXR_H_ */
