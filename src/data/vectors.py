"""Pretrained vectors for the students' embeddings: word2vec/GloVe text files (one reader for the BiLSTM's
embeddings and for TinyBERT's augmentation candidates), and Baidu LAC's Chinese character vectors, which
ship offline inside jieba, read with numpy alone (no PaddlePaddle)."""

import importlib.util
import os
import struct

import numpy as np

from src.common.cli import InputError


def read_word_vectors(path: str, keep: set[str] | None = None) -> tuple[list[str], np.ndarray]:
    """(words, vectors (n, d) float32) of a GloVe (no header) or word2vec (`count dim` header) text file.

    With `keep`, only those words are kept (a large file then costs little memory). Raises InputError
    for a missing file, a malformed line, vectors of different widths, or no vector at all.
    """
    if not os.path.isfile(path):
        raise InputError(f"word-vector file {path} does not exist")
    words, rows = [], []
    # Streamed (a large file costs little memory with `keep`); a BOM dropped; bad UTF-8 is an error.
    with open(path, encoding="utf-8-sig") as f:
        try:
            for line_no, line in enumerate(f, start=1):
                fields = line.rstrip().split(" ")
                if not line.strip() or (keep is not None and fields[0] not in keep):
                    continue
                if line_no == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                    continue  # word2vec header
                try:
                    rows.append(np.asarray(fields[1:], dtype=np.float32))
                except ValueError:
                    raise InputError(f"{path}:{line_no}: expected a word followed by numbers") from None
                words.append(fields[0])
        except UnicodeDecodeError as e:
            raise InputError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    if not rows:
        raise InputError(f"{path}: no word vectors" + (f" for any of the {len(keep)} words asked for" if keep else ""))
    if len({len(r) for r in rows}) != 1:
        raise InputError(f"{path}: vectors of different widths")
    return words, np.stack(rows)


# ----------------------------------------------------------------------------
# Baidu LAC's character vectors, as shipped in jieba/lac_small

PADDLE_FP32 = 5  # VarType.FP32 in PaddlePaddle's framework.proto


def _varints(data: bytes):
    """The unsigned LEB128 integers of a byte string, in order."""
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield value
            value = shift = 0


def read_paddle_tensor(path: str) -> np.ndarray:
    """A float32 tensor file of PaddlePaddle 1.x (`fluid.io.save_params`), as a read-only array.

    Layout: uint32 version, uint64 LoD level (0: a plain tensor), uint32 tensor version, int32 size of a
    TensorDesc protobuf, the TensorDesc (field 1: data type; field 2, repeated: dims), then the data in
    row-major order. Raises InputError unless the header is of that form and the data fills the rest of
    the file exactly.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 20:
        raise InputError(f"{path}: too short for a PaddlePaddle tensor file")
    _, lod_level, _, desc_size = struct.unpack_from("<IQIi", raw)
    header = 20 + desc_size
    fields = list(_varints(raw[20:header]))  # tag, value, tag, value, ...
    tags, values = fields[0::2], fields[1::2]
    if lod_level or not 0 < desc_size < 64 or len(tags) != len(values) or tags[:1] != [0x08] or set(tags[1:]) != {0x10}:
        raise InputError(f"{path}: not a plain PaddlePaddle tensor (LoD level {lod_level}, header {header} bytes)")
    dtype, dims = values[0], values[1:]
    if dtype != PADDLE_FP32 or header + 4 * int(np.prod(dims)) != len(raw):
        raise InputError(f"{path}: data type {dtype} and dims {dims} do not fill the file's {len(raw)} bytes")
    return np.frombuffer(raw, dtype="<f4", offset=header).reshape(dims)


def lac_dir() -> str:
    """`<jieba package>/lac_small`, where jieba ships Baidu LAC's small model ('' without jieba)."""
    spec = importlib.util.find_spec("jieba")
    return os.path.join(os.path.dirname(spec.origin), "lac_small") if spec and spec.origin else ""


def lac_char_vectors(directory: str | None = None) -> tuple[list[str], np.ndarray]:
    """(characters, vectors (n, 128) float32): Baidu LAC's trained character embeddings, from
    `model_baseline/word_emb` (one row per id, 20,941 rows in jieba 0.42) and `word.dic` (`id<TAB>char`;
    the id is the row; jieba's lists 20,940 ids, 20,939 unused). Only single characters are kept (not the
    OOV_* rows). `directory` defaults to jieba's `lac_small`; InputError when its files are missing."""
    directory = lac_dir() if directory is None else directory
    dic, emb = os.path.join(directory, "word.dic"), os.path.join(directory, "model_baseline", "word_emb")
    if not (os.path.isfile(dic) and os.path.isfile(emb)):
        raise InputError(f"LAC character vectors not found (no {dic} or {emb}); they ship with jieba 0.42")
    with open(dic, encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    if any(len(p) != 2 or not p[0].isdigit() for p in pairs):
        raise InputError(f"{dic}: expected id<TAB>character on every line")
    matrix = read_paddle_tensor(emb)
    rows = {int(i): ch for i, ch in pairs if len(ch) == 1}
    if matrix.ndim != 2 or max(int(i) for i, _ in pairs) >= len(matrix):
        raise InputError(f"{emb}: {matrix.shape} is not a matrix with a row for each id of {dic}")
    return list(rows.values()), matrix[list(rows)]  # fancy indexing copies: a writable array


def mean_char_vectors(words: list[str], chars: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(the words that have a vector for at least one of their characters, each such word's mean character
    vector (n, d)). Characters without a vector are skipped; a one-character word gets its character's vector."""
    index = {ch: i for i, ch in enumerate(chars)}
    found, rows = [], []
    for word in words:
        hits = [index[ch] for ch in word if ch in index]
        if hits:
            found.append(word)
            rows.append(vectors[hits].mean(0))
    return found, np.stack(rows) if rows else np.zeros((0, vectors.shape[1]), dtype=vectors.dtype)
