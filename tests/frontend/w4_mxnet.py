"""W4's recipe in MXNet 1.9.1, for tests/frontend/examples.rs (the end-to-end numerics test).

The docs MLP (784 -> 128 relu -> 64 relu -> 10, SoftmaxOutput) trained with the low-level loop
of WORKLOADS.md W4(a), by benches/mxnet/mxnet_baseline.py's own code (the network, the data,
the initial weights and the training loop that give MXNet's test accuracy 0.8466): the
training images in file order (468 batches of 128, the last 96 images dropped), weights
uniform(-0.07, 0.07) from numpy's RandomState(1234) in fc1, fc2, fc3 order, zero biases, and
per batch `w[:] = w - (0.1/128) * g` on SoftmaxOutput's summed gradient.

usage: FMNIST_DIR=DIR python w4_mxnet.py EPOCHS

Prints one JSON object: the training loss of each epoch (MXNet's CrossEntropy metric over the
epoch's batches, each batch's forward taken before its update), the test-set predictions
(argmax of one forward over the 10,000 test images) and the test accuracy.
"""
import json
import logging
import os
import sys

import mxnet as mx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'benches', 'mxnet'))
import mxnet_baseline as baseline  # noqa: E402


class Metered:
    """The executor, whose training forwards also feed the loss metric (the outputs are read
    before the loop's update overwrites the weights they came from)."""

    def __init__(self, exe, metric):
        self.exe, self.metric = exe, metric

    def __getattr__(self, name):
        return getattr(self.exe, name)

    def forward(self, is_train):
        self.exe.forward(is_train=is_train)
        self.metric.update([self.exe.arg_dict['softmax_label']], [self.exe.outputs[0]])


def main():
    logging.getLogger().setLevel(logging.ERROR)
    epochs = int(sys.argv[1])
    x_train, y_train, x_test, y_test = baseline.fmnist()
    batch, lr = 128, 0.1
    nbatch = x_train.shape[0] // batch
    net = baseline.mlp_symbol(mx)
    init = baseline.init_params_uniform(
        baseline.arg_shapes_of(net, data=(batch, 784), softmax_label=(batch,)))
    names = [k for k in net.list_arguments() if k not in ('data', 'softmax_label')]
    req = {k: ('write' if k in names else 'null') for k in net.list_arguments()}
    exe = net.simple_bind(mx.cpu(), data=(batch, 784), softmax_label=(batch,), grad_req=req)
    for k in names:
        exe.arg_dict[k][:] = init[k]
    x, y = mx.nd.array(x_train), mx.nd.array(y_train)
    losses = []
    for _ in range(epochs):
        metric = mx.metric.CrossEntropy()
        baseline.lowlevel_train_epoch(Metered(exe, metric), names, x, y, batch, nbatch, lr)
        losses.append(metric.get()[1])

    test = net.simple_bind(mx.cpu(), data=x_test.shape, softmax_label=(x_test.shape[0],),
                           grad_req='null')
    for k in names:
        test.arg_dict[k][:] = exe.arg_dict[k]
    test.arg_dict['data'][:] = x_test
    test.forward(is_train=False)
    pred = test.outputs[0].asnumpy().argmax(axis=1)
    print(json.dumps({'loss': losses, 'predictions': pred.tolist(),
                      'accuracy': float((pred == y_test).mean())}))


if __name__ == '__main__':
    main()
