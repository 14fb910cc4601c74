"""A small GGUF v3 writer and reader (F32/F16 tensors, scalar/string/array metadata).

Layout: "GGUF", u32 version 3, u64 tensor count, u64 metadata count, metadata (key string,
u32 value type, value), tensor infos (name, u32 n_dims, u64 dims (innermost first), u32 ggml
type, u64 offset into the data section), zero padding to general.alignment, tensor data (each
tensor aligned). Strings are u64 length + UTF-8 bytes. All little-endian.
"""
import struct

import numpy as np

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, \
    FLOAT64 = range(13)
GGML_F32, GGML_F16 = 0, 1
ALIGN = 32

_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
           FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class writer:
    def __init__(self):
        self.kv = []       # (key, type, value, elem_type)
        self.tensors = []  # (name, np.ndarray)

    def add(self, key, vtype, value, elem_type=None):
        self.kv.append((key, vtype, value, elem_type))

    def add_tensor(self, name, array):
        """`array` in numpy (row-major) shape; GGUF dims are written innermost first."""
        assert array.dtype in (np.float32, np.float16)
        self.tensors.append((name, np.ascontiguousarray(array)))

    def _value(self, vtype, value, elem_type):
        if vtype == STRING:
            return _str(value)
        if vtype == ARRAY:
            out = [struct.pack("<IQ", elem_type, len(value))]
            if elem_type == STRING:
                out.extend(_str(v) for v in value)
            else:
                out.append(np.asarray(value, dtype=np.dtype(_SCALAR[elem_type])).tobytes())
            return b"".join(out)
        return struct.pack(_SCALAR[vtype], value)

    def write(self, path):
        head = [b"GGUF", struct.pack("<IQQ", 3, len(self.tensors), len(self.kv) + 1)]
        head.append(_str("general.alignment") + struct.pack("<II", UINT32, ALIGN))
        for key, vtype, value, et in self.kv:
            head.append(_str(key) + struct.pack("<I", vtype) + self._value(vtype, value, et))
        offset = 0
        blobs = []
        for name, a in self.tensors:
            gtype = GGML_F32 if a.dtype == np.float32 else GGML_F16
            dims = list(reversed(a.shape))
            head.append(_str(name) + struct.pack("<I", len(dims))
                        + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", gtype, offset))
            data = a.astype(a.dtype.newbyteorder("<")).tobytes()
            pad = (-len(data)) % ALIGN
            blobs.append(data + b"\0" * pad)
            offset += len(data) + pad
        header = b"".join(head)
        header += b"\0" * ((-len(header)) % ALIGN)
        with open(path, "wb") as f:
            f.write(header)
            for b in blobs:
                f.write(b)


def read(path):
    """Returns (metadata dict, {name: np.ndarray in row-major shape})."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == STRING:
            return string()
        if t == ARRAY:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert buf[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    assert version == 3
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        gtype, off = take("<I"), take("<Q")
        infos.append((name, dims, gtype, off))
    align = meta.get("general.alignment", ALIGN)
    data_start = pos + (-pos) % align
    tensors = {}
    for name, dims, gtype, off in infos:
        dt = {GGML_F32: np.float32, GGML_F16: np.float16}[gtype]
        n = int(np.prod(dims))
        a = np.frombuffer(buf, dtype=np.dtype(dt).newbyteorder("<"), count=n,
                          offset=data_start + off)
        tensors[name] = a.reshape(list(reversed(dims))).astype(np.float32)
    return meta, tensors
