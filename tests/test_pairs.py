"""New sentence pairs for a pair task's transfer set (src/data/pairs.py): each kind does what it says on a
hand-made set, and both students take them from the command line, labelled by the teacher once."""

import pytest

from src.common.cli import InputError
from src.common.files import load_json
from src.data.examples import input_key
from src.data.pairs import PAIR_KINDS, nearest_neighbours, new_pairs, parse_kinds
from src.tinybert import task_distill
from tests.test_distill import run
from tests.test_distill_pairs import english  # noqa: F401  (a module fixture: a tiny pair teacher and its data)
from tests.tiny import write_tiny_bert

SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "the stock market fell today",
             "the cat sat on a mat", "a dog runs in the park", "stock markets fell today"]
TRAIN = [(SENTENCES[0], SENTENCES[1]), (SENTENCES[2], SENTENCES[3]), (SENTENCES[4], SENTENCES[5])]


def test_each_sentence_has_its_near_copy_as_its_nearest_neighbour():
    nearest = nearest_neighbours(SENTENCES, k=1)[:, 0]
    assert nearest.tolist() == [3, 4, 5, 0, 1, 2]  # "the cat sat on the mat" ~ "the cat sat on a mat", ...
    assert nearest_neighbours(SENTENCES, k=1, max_cells=12)[:, 0].tolist() == nearest.tolist()  # 2 rows a chunk


def test_new_pairs_come_in_equal_shares_and_are_never_training_held_out_or_repeated():
    held_out = [(SENTENCES[1], SENTENCES[2])]
    out = new_pairs(TRAIN, 8, PAIR_KINDS, seed=0, cjk=False, exclude=held_out)
    keys = [input_key(p) for p in out]
    assert len(out) == 8 and len(set(keys)) == 8  # 2 of each kind, none repeated
    assert not set(keys) & {input_key(p) for p in TRAIN + held_out}
    neighbours, random_pairs, swapped, variants = out[:2], out[2:4], out[4:6], out[6:]
    near = dict(zip(SENTENCES, [SENTENCES[i] for i in nearest_neighbours(SENTENCES, k=1)[:, 0]]))
    assert all(b == near[a] or b in SENTENCES for a, b in neighbours)
    assert all(a in SENTENCES and b in SENTENCES for a, b in random_pairs)
    assert all((b, a) in TRAIN for a, b in swapped)
    assert all("[MASK]" in b and a.split() != b.split() and len(a.split()) == len(b.split()) for a, b in variants)
    assert new_pairs(TRAIN, 8, PAIR_KINDS, seed=0, cjk=False, exclude=held_out) == out  # seeded


def test_a_kind_that_runs_out_stops_short():
    assert len(new_pairs(TRAIN, 10, ["swapped"], seed=0, cjk=False)) == 3  # one swap per training pair


def test_unknown_kinds_are_refused():
    assert parse_kinds("random, swapped") == ["random", "swapped"]
    with pytest.raises(InputError, match="--pair_kinds takes a comma-separated subset of neighbours, random"):
        parse_kinds("random,shuffled")


def test_the_bilstm_learns_the_teachers_outputs_on_new_pairs_labelled_once(english, tmp_path):  # noqa: F811
    teacher, data = english
    first = run(teacher, data, tmp_path / "kd", "--pair_transfer", "2", "--pair_kinds", "random,swapped")
    assert first["num_new_pairs"] == 2 * 64 and first["num_transfer_examples"] == 64 + 2 * 64
    assert first["teacher_logits_computed"] == first["num_transfer_examples"]  # every new pair labelled
    again = run(teacher, data, tmp_path / "kd", "--pair_transfer", "2", "--pair_kinds", "random,swapped",
                "--overwrite_output_dir")
    assert again["num_new_pairs"] == 128 and again["teacher_logits_computed"] == 0  # the same set, from the cache
    assert again["test"]["accuracy"] > 0.75


def test_pair_transfer_on_single_texts_is_one_line(toy_data, tmp_path):
    teacher = write_tiny_bert(tmp_path / "teacher", labels=["0", "1"])
    with pytest.raises(SystemExit, match=r"^error: --pair_transfer builds sentence pairs, but \S+ holds single "
                                         r"texts$"):
        run(teacher, toy_data, tmp_path / "kd", "--pair_transfer", "1")
    with pytest.raises(SystemExit, match=r"^error: --pair_kinds takes a comma-separated subset"):
        run(teacher, toy_data, tmp_path / "kd", "--pair_kinds", "all")


def test_tinybert_stage_2_learns_from_new_pairs(english, tmp_path):  # noqa: F811
    teacher, data = english
    out = tmp_path / "stage2"
    task_distill.main(["--teacher_model", teacher, "--init_from_teacher", "--student_layers", "1", "--data_dir", data,
                       "--output_dir", str(out), "--pred_distill", "--pair_transfer", "1", "--max_seq_length", "32",
                       "--num_train_epochs", "1", "--speed_texts", "0", "--no_cuda"])
    metrics = load_json(out / "metrics.json")
    assert metrics["num_train_examples"] == 64 + 64  # the training pairs, then as many new ones
