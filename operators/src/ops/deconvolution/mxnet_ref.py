# The MXNet 1.9.1 reference values of operators/src/ops/deconvolution/tests.rs:
#   .venv/bin/python operators/src/ops/deconvolution/mxnet_ref.py
#   MXNET_MKLDNN_ENABLED=0 .venv/bin/python operators/src/ops/deconvolution/mxnet_ref.py target_shape
# (oneDNN rejects the asymmetric padding of `target_shape`; MXNet's native kernel, which
# mishandles `dilate`, serves it.)
import mxnet as mx, numpy as np
def data(shape):  # ((i % 7) - 3) / 2
    n = int(np.prod(shape)); return mx.nd.array((((np.arange(n) % 7) - 3) / 2.0).reshape(shape))
def weight(shape):  # ((5 i % 11) - 5) / 4
    n = int(np.prod(shape)); return mx.nd.array((((np.arange(n) * 5 % 11) - 5) / 4.0).reshape(shape))
def head(shape):  # ((3 i % 5) - 2) / 2
    n = int(np.prod(shape)); return mx.nd.array((((np.arange(n) * 3 % 5) - 2) / 2.0).reshape(shape))
cases = [
    ("stride_pad_adj_bias", (1, 2, 3, 3), (2, 2, 3, 3),
     dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), adj=(1, 1), num_filter=2, no_bias=False)),
    ("groups_dilate_1d", (2, 4, 5), (4, 3, 3),
     dict(kernel=(3,), stride=(3,), dilate=(2,), pad=(2,), num_filter=6, num_group=2)),
    ("target_shape", (1, 2, 4, 4), (2, 3, 4, 4),
     dict(kernel=(4, 4), stride=(2, 2), target_shape=(9, 8), num_filter=3)),
    ("three_d_bias", (1, 2, 2, 3, 2), (2, 2, 2, 2, 2),
     dict(kernel=(2, 2, 2), stride=(1, 2, 1), num_filter=2, no_bias=False)),
]
import os, sys
only = sys.argv[1:]  # case names; all by default
for name, ds, ws, kw in cases:
    if only and name not in only:
        continue
    x, w = data(ds), weight(ws)
    args = [x, w]
    if not kw.get("no_bias", True):
        args.append(mx.nd.array([0.5, -1.0][:kw["num_filter"]]))
    for a in args: a.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Deconvolution(*args, **kw)
    y.backward(head(y.shape))
    try:
        y.wait_to_read()
    except mx.base.MXNetError as e:
        print(name, "fails:", str(e).splitlines()[-1]); continue
    print(name, y.shape)
    print("y", y.asnumpy().ravel().tolist())
    for i, a in enumerate(args): print("g%d" % i, a.grad.asnumpy().ravel().tolist())
