"""Read a TensorFlow checkpoint (TensorBundle V2) into numpy, without TensorFlow.

A bundle is two files: ``<prefix>.index``, an SSTable (LevelDB's table format)
mapping each tensor name to a ``BundleEntryProto`` (dtype, shape, offset,
size, crc32c), and ``<prefix>.data-00000-of-00001``, the raw little-endian
tensors one after another. The empty key holds the ``BundleHeaderProto``,
which is skipped. Only what musicnn's checkpoints use is supported: one
shard, uncompressed blocks, whole (unsliced) float32 tensors; anything else
is an error, never a silent misread.

The protobuf messages are decoded by hand (varints and length-delimited
fields): ten lines here spare a generated ``_pb2`` module and its protobuf
version coupling.
"""

from __future__ import annotations

import struct

import numpy as np

# LevelDB table footer: two block handles padded to 40 bytes, then the magic.
FOOTER_SIZE = 48
TABLE_MAGIC = 0xDB4775248B80FB57
# Each block is followed by a compression type byte and a masked crc32c.
BLOCK_TRAILER_SIZE = 5
NO_COMPRESSION = 0
# tensorflow/core/framework/types.proto
DT_FLOAT = 1
# BundleEntryProto field numbers (tensorflow/core/protobuf/tensor_bundle.proto).
ENTRY_DTYPE, ENTRY_SHAPE, ENTRY_SHARD_ID, ENTRY_OFFSET, ENTRY_SIZE, ENTRY_CRC32C, ENTRY_SLICES = 1, 2, 3, 4, 5, 6, 7
# TensorShapeProto: repeated Dim dim = 2; Dim: int64 size = 1.
SHAPE_DIM, DIM_SIZE = 2, 1
# crc32c as TensorFlow stores it: masked (rotated and offset) so that a crc of
# data that itself holds crcs does not degenerate.
CRC_MASK_DELTA = 0xA282EAD8
CRC32C_POLY = 0x82F63B78


class BundleError(Exception):
    """The checkpoint is not a bundle this reader understands."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint and
    fixed32 fields, bytes for length-delimited ones."""
    fields, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            (value,), pos = struct.unpack_from("<I", buf, pos), pos + 4
        elif wire == 1:
            (value,), pos = struct.unpack_from("<Q", buf, pos), pos + 8
        else:
            raise BundleError(f"unsupported protobuf wire type {wire} in field {number}")
        fields.append((number, value))
    return fields


def _block(table: bytes, handle: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the block a ``BlockHandle`` points at."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if table[offset + size] != NO_COMPRESSION:
        raise BundleError(f"block at {offset} is compressed (type {table[offset + size]})")
    block = table[offset : offset + size]
    (n_restarts,) = struct.unpack_from("<I", block, size - 4)
    end = size - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """crc32c of ``data``, masked as TensorFlow stores it in a bundle entry."""
    crc, table = 0xFFFFFFFF, _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + CRC_MASK_DELTA) & 0xFFFFFFFF


def read_bundle(index: bytes, data: bytes) -> dict[str, np.ndarray]:
    """Every tensor of a one-shard bundle, by name, as float32 arrays whose
    crc32c has been checked against the index."""
    if len(index) < FOOTER_SIZE or struct.unpack_from("<Q", index, len(index) - 8)[0] != TABLE_MAGIC:
        raise BundleError("index is not an SSTable (bad footer magic)")
    footer = index[-FOOTER_SIZE:]
    _, pos = _varint(footer, 0)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    tensors = {}
    for _, data_handle in _block(index, footer[pos:]):
        for key, value in _block(index, data_handle):
            if key == b"":
                continue  # BundleHeaderProto
            name = key.decode()
            entry: dict[int, object] = {}
            for number, field in _fields(value):
                entry[number] = field
            if entry.get(ENTRY_DTYPE) != DT_FLOAT:
                raise BundleError(f"tensor {name}: dtype {entry.get(ENTRY_DTYPE)} is not float32")
            if entry.get(ENTRY_SHARD_ID, 0) != 0 or ENTRY_SLICES in entry:
                raise BundleError(f"tensor {name}: sharded or sliced tensors are not supported")
            shape = [
                dict(_fields(dim)).get(DIM_SIZE, 0)
                for number, dim in _fields(entry.get(ENTRY_SHAPE, b""))
                if number == SHAPE_DIM
            ]
            offset, size = entry.get(ENTRY_OFFSET, 0), entry.get(ENTRY_SIZE, 0)
            raw = data[offset : offset + size]
            if len(raw) != size or size != 4 * int(np.prod(shape)):
                raise BundleError(f"tensor {name}: {size} bytes at {offset} do not hold shape {shape}")
            if masked_crc32c(raw) != entry.get(ENTRY_CRC32C):
                raise BundleError(f"tensor {name}: crc32c mismatch")
            tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    return tensors
