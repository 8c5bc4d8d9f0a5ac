/*
 * mxr's copy of Apache MXNet 1.9.1's predict API (include/mxnet/c_predict_api.h), written by
 * hand from MXNet's header with the same typedefs, names and signatures, so that a program
 * written for MXNet's predict API builds unchanged against it and links to libmxr.
 *
 * Every function returns 0 on success and -1 on failure; MXGetLastError() gives the message
 * for the calling thread. Handles are opaque: a freed, forged or wrong-kind handle is an
 * error, not undefined behaviour. Separate predictors may be used from separate threads.
 */
#ifndef MXNET_C_PREDICT_API_H_
#define MXNET_C_PREDICT_API_H_

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <stdint.h>

#ifndef MXNET_DLL
#define MXNET_DLL
#endif

/*! \brief manually define unsigned int */
typedef uint32_t mx_uint;
/*! \brief manually define float */
typedef float mx_float;
/*! \brief handle to Predictor */
typedef void *PredictorHandle;
/*! \brief handle to NDArray list */
typedef void *NDListHandle;
/*! \brief handle to NDArray */
typedef void *NDArrayHandle;
/*! \brief callback used for add monitoring to nodes in the graph: the node's name, a new
 *  NDArray handle (the callback's to free with MXNDArrayFree), the user's pointer */
typedef void (*PredMonitorCallback)(const char*, NDArrayHandle, void*);

/*! \brief the message of the calling thread's last failing call */
MXNET_DLL const char* MXGetLastError();

/*! \brief create a predictor from a symbol's JSON and a .params file's bytes; the inputs'
 *  shapes are in CSR form (input_shape_data[input_shape_indptr[i]..input_shape_indptr[i+1]]);
 *  dev_type 1 = cpu, 2 = gpu */
MXNET_DLL int MXPredCreate(const char* symbol_json_str,
                           const void* param_bytes,
                           int param_size,
                           int dev_type, int dev_id,
                           uint32_t num_input_nodes,
                           const char** input_keys,
                           const uint32_t* input_shape_indptr,
                           const uint32_t* input_shape_data,
                           PredictorHandle* out);

/*! \brief MXPredCreate with element types (MXNet's type flags) for some arguments */
MXNET_DLL int MXPredCreateEx(const char* symbol_json_str,
                             const void* param_bytes,
                             int param_size,
                             int dev_type, int dev_id,
                             const uint32_t num_input_nodes,
                             const char** input_keys,
                             const uint32_t* input_shape_indptr,
                             const uint32_t* input_shape_data,
                             const uint32_t num_provided_arg_dtypes,
                             const char** provided_arg_dtype_names,
                             const int* provided_arg_dtypes,
                             PredictorHandle* out);

/*! \brief MXPredCreate whose outputs are the named nodes' outputs ("<key>_output") */
MXNET_DLL int MXPredCreatePartialOut(const char* symbol_json_str,
                                     const void* param_bytes,
                                     int param_size,
                                     int dev_type, int dev_id,
                                     uint32_t num_input_nodes,
                                     const char** input_keys,
                                     const uint32_t* input_shape_indptr,
                                     const uint32_t* input_shape_data,
                                     uint32_t num_output_nodes,
                                     const char** output_keys,
                                     PredictorHandle* out);

/*! \brief create num_threads predictors (out has room for num_threads handles), one per
 *  thread */
MXNET_DLL int MXPredCreateMultiThread(const char* symbol_json_str,
                                      const void* param_bytes,
                                      int param_size,
                                      int dev_type, int dev_id,
                                      uint32_t num_input_nodes,
                                      const char** input_keys,
                                      const uint32_t* input_shape_indptr,
                                      const uint32_t* input_shape_data,
                                      int num_threads,
                                      PredictorHandle* out);

/*! \brief a new predictor with some inputs' shapes changed; handle stays valid */
MXNET_DLL int MXPredReshape(uint32_t num_input_nodes,
                            const char** input_keys,
                            const uint32_t* input_shape_indptr,
                            const uint32_t* input_shape_data,
                            PredictorHandle handle,
                            PredictorHandle* out);

/*! \brief output index's shape, owned by the predictor */
MXNET_DLL int MXPredGetOutputShape(PredictorHandle handle,
                                   uint32_t index,
                                   uint32_t** shape_data,
                                   uint32_t* shape_ndim);

/*! \brief output out_index's element type (MXNet's type flag) */
MXNET_DLL int MXPredGetOutputType(PredictorHandle handle,
                                  uint32_t out_index,
                                  int* out_dtype);

/*! \brief copy size floats into the input key; size must be the input's size */
MXNET_DLL int MXPredSetInput(PredictorHandle handle,
                             const char* key,
                             const float* data,
                             uint32_t size);

/*! \brief run the forward pass */
MXNET_DLL int MXPredForward(PredictorHandle handle);

/*! \brief run step `step` of the forward pass; mxr runs the graph as one step */
MXNET_DLL int MXPredPartialForward(PredictorHandle handle, int step, int* step_left);

/*! \brief copy output index (as floats) into data; size must be the output's size */
MXNET_DLL int MXPredGetOutput(PredictorHandle handle,
                              uint32_t index,
                              float* data,
                              uint32_t size);

/*! \brief free a predictor */
MXNET_DLL int MXPredFree(PredictorHandle handle);

/*! \brief load a .params file's bytes as a list of named float arrays */
MXNET_DLL int MXNDListCreate(const char* nd_file_bytes,
                             int nd_file_size,
                             NDListHandle *out,
                             uint32_t* out_length);

/*! \brief entry index of a list, owned by the list */
MXNET_DLL int MXNDListGet(NDListHandle handle,
                          uint32_t index,
                          const char** out_key,
                          const float** out_data,
                          const uint32_t** out_shape,
                          uint32_t* out_ndim);

/*! \brief set (or clear, with NULL) the monitor callback, called after each forward pass
 *  with the outputs (and, with monitor_all, the arguments) */
MXNET_DLL int MXPredSetMonitorCallback(PredictorHandle handle,
                                       PredMonitorCallback callback,
                                       void* callback_handle,
                                       bool monitor_all);

/*! \brief free a list */
MXNET_DLL int MXNDListFree(NDListHandle handle);

#ifdef __cplusplus
}
#endif

#endif  /* MXNET_C_PREDICT_API_H_ */
