import numpy as np
import pytest

from src.common.cli import InputError
from src.data.ragged import Ragged, Texts, exists, write_ragged, write_texts
from src.teachers.cache import write_cache


def test_rows_of_any_length_round_trip_through_the_mapped_files(tmp_path):
    rows = [[1, 2, 3], [], [7], list(range(10))]
    path = str(tmp_path / "ids")
    write_ragged(path, iter(rows), np.int32, chunk_rows=3)  # a chunk boundary inside the rows
    store = Ragged(path, np.int32)
    assert exists(path) and len(store) == 4 and isinstance(store.data, np.memmap)
    assert [store[i].tolist() for i in range(4)] == rows and store.lengths().tolist() == [3, 0, 1, 10]
    assert not [f for f in (tmp_path).iterdir() if f.name.endswith(".tmp")]


def test_an_empty_store_and_a_store_of_empty_rows(tmp_path):
    write_ragged(str(tmp_path / "none"), [], np.int32)
    write_ragged(str(tmp_path / "blank"), [[], []], np.int32)
    assert len(Ragged(str(tmp_path / "none"), np.int32)) == 0
    assert [r.tolist() for r in Ragged(str(tmp_path / "blank"), np.int32)] == [[], []]


def test_texts_keep_their_characters(tmp_path):
    texts = ["a good film", "好电影\tnot bad", ""]
    write_texts(str(tmp_path / "t"), texts)
    assert list(Texts(str(tmp_path / "t"))) == texts


def test_a_store_whose_offsets_were_never_renamed_is_incomplete(tmp_path):
    path = str(tmp_path / "ids")
    write_ragged(path, [[1]], np.int32)
    (tmp_path / "ids.offsets").rename(tmp_path / "ids.offsets.tmp")  # as a kill before the last rename leaves it
    assert not exists(path)


class Unwritable(np.ndarray):
    """An array whose write fails as on a full disk."""

    def tofile(self, *args, **kwargs):
        raise OSError(28, "No space left on device")


def test_a_full_disk_is_one_line_and_leaves_no_store(tmp_path, monkeypatch):
    path = str(tmp_path / "ids")
    concatenate = np.concatenate
    monkeypatch.setattr(np, "concatenate", lambda *args, **kwargs: concatenate(*args, **kwargs).view(Unwritable))
    with pytest.raises(InputError, match=r"^could not write \S+ids: No space left on device$"):
        write_ragged(path, [[1, 2], [3]], np.int32)
    assert not exists(path) and list(tmp_path.iterdir()) == []


def test_teacher_logit_cache_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    array = np.array
    monkeypatch.setattr(np, "array", lambda *args, **kwargs: array(*args, **kwargs).view(Unwritable))
    with pytest.raises(InputError, match=r"^could not write \S+cache.bin: No space left on device$"):
        write_cache(str(tmp_path / "cache.bin"), np.arange(3, dtype=np.uint64), np.zeros((3, 2), np.float32))
    assert list(tmp_path.iterdir()) == []
