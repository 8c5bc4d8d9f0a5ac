#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the real MXNet files in tests/fixtures (idempotent).

params: every .params file; symbol_json: every symbol JSON; op_attrs: each operator node of
those JSON files in the op_attrs input format (tests/robust/harness.rs); idx: small IDX files,
raw and gzip, plus the first bytes of Fashion-MNIST when installed; onnx: the ONNX fixtures
of onnx/tests/fixtures.
"""
import glob, gzip, hashlib, json, os, struct, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "tests", "fixtures")
corpus = os.path.join(root, "fuzz", "corpus")


def put(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def small(path, limit=1 << 16):
    return os.path.getsize(path) <= limit


for p in glob.glob(os.path.join(fixtures, "**", "*.params"), recursive=True):
    if small(p):
        put("params", open(p, "rb").read())

for p in glob.glob(os.path.join(fixtures, "**", "*.json"), recursive=True):
    text = open(p, "rb").read()
    try:
        graph = json.loads(text)
    except ValueError:
        continue
    if not (isinstance(graph, dict) and "nodes" in graph):
        continue
    put("symbol_json", text)
    for i, node in enumerate(graph["nodes"]):
        if node.get("op", "null") == "null":
            continue
        attrs = node.get("attrs", node.get("attr", node.get("param", {})))
        lines = [node["op"]] + [f"{k}={v}" for k, v in sorted(attrs.items())]
        head = bytes([len(node.get("inputs", [])) % 16]) + struct.pack("<I", i * 2654435761 % (1 << 32))
        put("op_attrs", head + "\n".join(lines).encode())


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


for dims in ([2, 3, 4], [1, 28, 28], [0, 1, 1]):
    n = dims[0] * dims[1] * dims[2]
    f = idx(dims, [i % 256 for i in range(n)])
    put("idx", f)
    put("idx", gzip.compress(f, mtime=0))
for n in (0, 1, 10):
    f = idx([n], [i % 10 for i in range(n)])
    put("idx", f)
    put("idx", gzip.compress(f, mtime=0))
for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    p = os.path.join("/usr/share/datasets/fashion-mnist", name)
    if os.path.exists(p):
        raw = gzip.open(p).read()
        head = raw[:16] if "images" in name else raw[:8]
        dims = list(struct.unpack(">" + "I" * ((len(head) - 4) // 4), head[4:]))
        dims[0] = 2
        body = raw[len(head): len(head) + 2 * (784 if "images" in name else 1)]
        put("idx", idx(dims, body))

for p in glob.glob(os.path.join(root, "onnx", "tests", "fixtures", "*.onnx")):
    if small(p):
        put("onnx", open(p, "rb").read())

for t in ("params", "symbol_json", "op_attrs", "idx", "onnx"):
    d = os.path.join(corpus, t)
    print(f"{t}: {len(os.listdir(d)) if os.path.isdir(d) else 0} seeds", file=sys.stderr)
