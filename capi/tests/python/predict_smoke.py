"""Binds libmxr's predict API from Python with ctypes: MXPredCreate, MXPredSetInput,
MXPredForward, MXPredGetOutputShape, MXPredGetOutput, MXPredFree and MXGetLastError.

Usage: predict_smoke.py libmxr.so symbol.json model.params
Prints the output row's argmax and sum, then checks a freed handle is an error.
"""
import ctypes
import sys

lib_path, symbol_path, params_path = sys.argv[1:4]
lib = ctypes.CDLL(lib_path)
lib.MXGetLastError.restype = ctypes.c_char_p
PredictorHandle = ctypes.c_void_p


def check(rc):
    if rc != 0:
        raise RuntimeError(lib.MXGetLastError().decode())


with open(symbol_path, "rb") as f:
    symbol = f.read()
with open(params_path, "rb") as f:
    params = f.read()

keys = (ctypes.c_char_p * 1)(b"data")
indptr = (ctypes.c_uint32 * 2)(0, 2)
shape = (ctypes.c_uint32 * 2)(1, 784)
handle = PredictorHandle()
check(lib.MXPredCreate(ctypes.c_char_p(symbol), ctypes.c_char_p(params), ctypes.c_int(len(params)),
                       ctypes.c_int(1), ctypes.c_int(0), ctypes.c_uint32(1), keys, indptr, shape,
                       ctypes.byref(handle)))

data = (ctypes.c_float * 784)(*[(i % 256) / 255.0 for i in range(784)])
check(lib.MXPredSetInput(handle, b"data", data, ctypes.c_uint32(784)))
check(lib.MXPredForward(handle))
dims = ctypes.POINTER(ctypes.c_uint32)()
ndim = ctypes.c_uint32()
check(lib.MXPredGetOutputShape(handle, ctypes.c_uint32(0), ctypes.byref(dims), ctypes.byref(ndim)))
size = 1
for i in range(ndim.value):
    size *= dims[i]
out = (ctypes.c_float * size)()
check(lib.MXPredGetOutput(handle, ctypes.c_uint32(0), out, ctypes.c_uint32(size)))
check(lib.MXPredFree(handle))
values = list(out)
print("argmax", max(range(size), key=values.__getitem__))
print("sum %.6f" % sum(values))

if lib.MXPredForward(handle) != -1 or b"already freed" not in lib.MXGetLastError():
    raise SystemExit("a freed handle was accepted")
print("freed handle rejected")
