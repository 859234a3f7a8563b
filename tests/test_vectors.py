import os
import struct

import numpy as np
import pytest

from src.common.cli import InputError
from src.data.vectors import lac_char_vectors, lac_dir, mean_char_vectors, read_paddle_tensor, read_word_vectors


def write_paddle_tensor(path, matrix):
    """A float32 matrix in PaddlePaddle 1.x's tensor-file layout (what `read_paddle_tensor` reads)."""
    def varint(n):
        out = b""
        while n >= 0x80:
            out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
        return out + bytes([n])

    desc = b"\x08" + varint(5) + b"".join(b"\x10" + varint(d) for d in matrix.shape)  # FP32, dims
    with open(path, "wb") as f:
        f.write(struct.pack("<IQIi", 0, 0, 0, len(desc)) + desc + matrix.astype("<f4").tobytes())


def write_fake_lac(directory, matrix, dic_lines):
    os.makedirs(directory / "model_baseline")
    write_paddle_tensor(directory / "model_baseline" / "word_emb", matrix)
    (directory / "word.dic").write_text("".join(f"{line}\n" for line in dic_lines), encoding="utf-8")
    return str(directory)


def test_word_vectors_glove_and_word2vec_with_bom_and_blank_lines(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("\ufeff2 3\ngood 1 0 0\n\nbad 0 1 0\n\n", encoding="utf-8")  # word2vec header, Excel's BOM
    words, vectors = read_word_vectors(str(path))
    assert words == ["good", "bad"] and vectors.tolist() == [[1, 0, 0], [0, 1, 0]]
    assert read_word_vectors(str(path), keep={"bad"})[0] == ["bad"]
    path.write_bytes("好 1 0\n".encode("gbk"))
    with pytest.raises(InputError, match="is not UTF-8 text"):
        read_word_vectors(str(path))
    path.write_text("good 1 0\nbad 0 1 0\n", encoding="utf-8")
    with pytest.raises(InputError, match="vectors of different widths"):
        read_word_vectors(str(path))


def test_paddle_tensor_header_and_data(tmp_path):
    matrix = np.arange(6 * 130, dtype=np.float32).reshape(6, 130)  # 130 takes a two-byte varint
    write_paddle_tensor(tmp_path / "t", matrix)
    assert os.path.getsize(tmp_path / "t") == 20 + 7 + matrix.nbytes  # 20-byte prefix, 7-byte TensorDesc
    np.testing.assert_array_equal(read_paddle_tensor(str(tmp_path / "t")), matrix)
    with open(tmp_path / "t", "ab") as f:
        f.write(b"\0\0\0\0")  # one float too many
    with pytest.raises(InputError, match="do not fill"):
        read_paddle_tensor(str(tmp_path / "t"))
    (tmp_path / "u").write_bytes(b"\0" * 40)
    with pytest.raises(InputError, match="not a plain PaddlePaddle tensor"):
        read_paddle_tensor(str(tmp_path / "u"))


def test_lac_rows_follow_the_ids_of_word_dic(tmp_path):
    matrix = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)  # row i is [4i, 4i+1, 4i+2, 4i+3]
    directory = write_fake_lac(tmp_path / "lac", matrix, ["0\ta", "2\t好", "1\t棒", "4\tOOV"])  # id 3 unused
    chars, vectors = lac_char_vectors(directory)
    assert chars == ["a", "好", "棒"]  # OOV left out
    np.testing.assert_array_equal(vectors, matrix[[0, 2, 1]])
    assert vectors.flags.writeable
    with pytest.raises(InputError, match="ship with jieba"):
        lac_char_vectors(str(tmp_path / "missing"))


def test_a_word_vector_is_the_mean_of_its_characters_vectors():
    chars, vectors = ["好", "棒", "看"], np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]], dtype=np.float32)
    words, rows = mean_char_vectors(["好", "好棒", "好x看", "xyz"], chars, vectors)
    assert words == ["好", "好棒", "好x看"]  # xyz has no character with a vector
    np.testing.assert_allclose(rows, [[1.0, 0.0], [0.5, 0.5], [2.0, 1.5]])  # x skipped: (好 + 看) / 2


@pytest.mark.skipif(not os.path.isfile(os.path.join(lac_dir(), "model_baseline", "word_emb")),
                    reason="jieba's LAC files are not installed")
def test_the_real_lac_vectors():
    chars, vectors = lac_char_vectors()
    assert vectors.shape == (len(chars), 128) and len(chars) > 20_000 and len(set(chars)) == len(chars)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.isfinite(vectors).all() and norms.min() > 0.1 and 1 < np.median(norms) < 50
    index = {ch: i for i, ch in enumerate(chars)}

    def cos(a, b):
        x, y = vectors[index[a]], vectors[index[b]]
        return x @ y / np.linalg.norm(x) / np.linalg.norm(y)

    # related characters are closer than unrelated ones (0.40 vs 0.11, 0.11 vs -0.22 in jieba 0.42)
    assert cos("猫", "狗") > cos("猫", "桌") and cos("好", "棒") > cos("好", "桌")
