"""TinyBERT task distillation: losses, layer maps, projections, student init, both stages end to end, errors."""

import argparse
import contextlib
import os
import re

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

import src.teachers.cache
from src.common.cli import InputError
from src.common.files import is_within, load_json, staging_dir
from src.data.examples import Example, write_examples
from src.data.ragged import Inputs
from src.data.tasks import task_data_dir
from src.distill_task_specific_bert import bert_classification
from src.modeling.bert import load_classifier
from src.tinybert import task_distill
from src.tinybert.attention import SCORES
from src.tinybert.student import PROJECTIONS_FILE, Projection, copy_teacher_layers, layer_map
from src.train.losses import attention_mse, hidden_mse, intermediate_layer_loss, soft_cross_entropy, uniform_layer_map
from tests.tiny import VOCAB, kill_then_resume, torchrun, write_tiny_bert, write_toy_data, write_toy_pairs


def write_teacher(path, num_layers=2, **kwargs):
    """A tiny random classifier labelled like the toy data ('0', '1'), as a fine-tuned teacher is."""
    write_tiny_bert(path, num_layers=num_layers, **kwargs)
    config = BertConfig.from_pretrained(path)
    config.id2label, config.label2id = {0: "0", 1: "1"}, {"0": 0, "1": 1}
    config.save_pretrained(path)
    return str(path)


@pytest.fixture
def teacher(tmp_path):
    return write_teacher(tmp_path / "teacher")


def run(*argv):
    task_distill.main(["--max_seq_length", "32", "--train_batch_size", "16", "--num_train_epochs", "1",
                       "--speed_texts", "16", *argv])


# --- losses on hand-worked tensors

def test_hidden_mse_worked_value_and_padding():
    mask = torch.tensor([[1, 1, 0]])
    h_T = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    assert hidden_mse(h_T, h_T, mask) == 0
    h_S = h_T.clone()
    h_S[0, 0] = torch.tensor([2.0, 4.0])  # squared errors 1 and 4 over 2 real tokens x 2 features
    assert hidden_mse(h_S, h_T, mask).item() == pytest.approx(5 / 4)
    h_S[0, 2] = 100.0  # a padding position
    assert hidden_mse(h_S, h_T, mask).item() == pytest.approx(5 / 4)


def test_attention_mse_worked_value_and_padding():
    mask = torch.tensor([[1, 1, 0]])
    a_T = torch.full((1, 2, 3, 3), 0.5)
    assert attention_mse(a_T, a_T, mask) == 0
    a_S = a_T.clone()
    a_S[0, 1, 0, 1] = 1.0  # one error of 0.5 among 2 heads x 2 x 2 real pairs
    assert attention_mse(a_S, a_T, mask).item() == pytest.approx(0.25 / 8)
    a_S[0, :, 2, :] = 9.0  # padded query row and key column
    a_S[0, :, :, 2] = 9.0
    assert attention_mse(a_S, a_T, mask).item() == pytest.approx(0.25 / 8)


def test_soft_cross_entropy_is_cross_entropy_for_one_hot_teacher():
    z_S = torch.tensor([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]])
    gold = torch.tensor([2, 0])
    z_T = F.one_hot(gold, 3).float() * 100  # softmax = one-hot
    assert soft_cross_entropy(z_S, z_T, 1.0).item() == pytest.approx(F.cross_entropy(z_S, gold).item(), rel=1e-5)
    assert soft_cross_entropy(z_T, z_T).item() == pytest.approx(0, abs=1e-6)


# --- layer maps, projections, student init

def test_uniform_layer_map():
    assert uniform_layer_map(3, 6) == [(1, 2), (2, 4), (3, 6)]
    assert uniform_layer_map(2, 6) == [(1, 3), (2, 6)]
    assert uniform_layer_map(4, 12) == [(1, 3), (2, 6), (3, 9), (4, 12)]
    with pytest.raises(ValueError):
        uniform_layer_map(4, 6)
    with pytest.raises(InputError, match="--layer_map"):
        layer_map(4, 6)
    assert layer_map(4, 6, "1:2,2:3,3:5,4:6") == [(1, 2), (2, 3), (3, 5), (4, 6)]
    for bad in ("1-2", "0:1", "1:7"):
        with pytest.raises(InputError):
            layer_map(4, 6, bad)


def test_task_names(tmp_path):
    (tmp_path / "sst2").mkdir()
    assert task_data_dir(str(tmp_path), "SST-2") == str(tmp_path / "sst2")  # GLUE's folder name for the task
    assert task_data_dir(str(tmp_path), "sts-b") == str(tmp_path / "sts-b")  # none exists: the name as given
    assert task_data_dir(str(tmp_path), "reviews") == str(tmp_path / "reviews")


def test_one_projection_shared_by_every_layer(tmp_path):
    proj = Projection(16, 32)
    assert proj(torch.randn(2, 5, 16)).shape == (2, 5, 32) and len(list(proj.parameters())) == 2
    same = Projection(32, 32)
    h = torch.randn(2, 5, 32)
    assert not list(same.parameters()) and same(h) is h
    # saved beside a student, it is taken up again; other widths are refused
    proj.save(str(tmp_path))
    again, loaded = Projection.from_student(str(tmp_path), 16, 32)
    assert loaded and torch.equal(again.fit_dense.weight, proj.fit_dense.weight)
    assert Projection.from_student(str(tmp_path / "none"), 16, 32)[1] is False
    with pytest.raises(InputError, match="maps width 16 to 32, not 8 to 32"):
        Projection.from_student(str(tmp_path), 8, 32)


def test_intermediate_layer_loss_worked_value():
    """One student layer mapped onto teacher layer 2: L = L_embd + L_hidn(1, 2) + L_attn(1, 2)."""
    mask = torch.ones(1, 2)
    hidden_T = [torch.zeros(1, 2, 2), torch.full((1, 2, 2), 5.0), torch.ones(1, 2, 2)]  # layer 1 is not mapped
    hidden_S = [torch.zeros(1, 2, 2), torch.full((1, 2, 2), 3.0)]  # squared error 4 against teacher layer 2
    scores_T = [torch.full((1, 1, 2, 2), 9.0), torch.zeros(1, 1, 2, 2)]
    scores_S = [torch.ones(1, 1, 2, 2)]  # squared error 1 against teacher layer 2
    terms = intermediate_layer_loss(hidden_S, scores_S, hidden_T, scores_T, [(1, 2)], mask, lambda h: h)
    assert {k: v.item() for k, v in terms.items()} == {"loss": 5.0, "embd": 0.0, "hidn": 4.0, "attn": 1.0}


def test_score_attention_one_tensor_per_layer(teacher):
    model = load_classifier(teacher, attn_implementation=SCORES).eval()
    out = model(input_ids=torch.tensor([[2, 5, 6, 3]]), output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (1, 2, 4, 4)
    assert len(out.hidden_states) == 3
    assert not torch.allclose(out.attentions[1].sum(-1), torch.ones(1, 2, 4))  # scores, not probabilities


def test_stage1_lr_is_constant_unless_asked():
    base = ["--teacher_model", "t", "--init_from_teacher", "--student_layers", "1", "--data_dir", "d",
            "--output_dir", "o"]

    def learning_rates(*flags, total=20):  # at each of `total` steps and after the last, for a peak of 1
        make = task_distill.lr_schedule(task_distill.parse_args([*base, *flags]))
        if make is None:
            return None
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler, rates = make(optimizer, total), []
        for _ in range(total):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return rates + [optimizer.param_groups[0]["lr"]]

    assert learning_rates() is None  # fit keeps the learning rate constant
    for flags in (["--pred_distill"], ["--lr_schedule", "linear"]):  # 10 % warm-up (2 steps), then to 0
        assert learning_rates(*flags) == pytest.approx([0, 0.5, *(1 - i / 18 for i in range(19))])


def test_aug_train_with_max_train_examples_is_refused():
    with pytest.raises(SystemExit) as e:
        task_distill.parse_args(["--teacher_model", "t", "--init_from_teacher", "--student_layers", "1",
                                 "--data_dir", "d", "--output_dir", "o", "--aug_train", "--max_train_examples", "5"])
    assert str(e.value.code).startswith("error: --max_train_examples cannot be combined with --aug_train")


def test_tokenized_transfer_set_in_the_cache_or_beside_the_output_never_inside():
    flags = ["--teacher_model", "t", "--init_from_teacher", "--student_layers", "1", "--data_dir", "d"]
    args = task_distill.parse_args([*flags, "--output_dir", "runs/s1"])
    assert task_distill.stores_dir(args) == os.path.abspath("runs/.s1.stores")
    assert not is_within(task_distill.stores_dir(args), staging_dir("runs/s1", create=False))
    assert task_distill.stores_dir(task_distill.parse_args([*flags, "--output_dir", "o", "--cache_dir", "c"])) == "c"


def test_unlabeled_texts_join_the_transfer_set(tmp_path, teacher, toy_data, student_config, caplog):
    write_examples(os.path.join(toy_data, "unlabeled.tsv"), [Example(f"good film {i}", None) for i in range(10)])
    out1, out2 = str(tmp_path / "with"), str(tmp_path / "without")
    run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
        "--output_dir", out1, "--speed_texts", "0")
    run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
        "--output_dir", out2, "--speed_texts", "0", "--no_unlabeled")
    with_u, without = (load_json(os.path.join(d, "metrics.json")) for d in (out1, out2))
    assert with_u["num_train_examples"] == without["num_train_examples"] + 10
    assert with_u["transfer_files"][-1].endswith("unlabeled.tsv") and len(without["transfer_files"]) == 1
    # --aug_train reads the augmented files of both
    write_examples(os.path.join(toy_data, "train_aug.tsv"), [Example("good movie", "1"), Example("bad film", "0")])
    write_examples(os.path.join(toy_data, "unlabeled_aug.tsv"), [Example("a good film", None)] * 3)
    run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
        "--output_dir", str(tmp_path / "aug"), "--speed_texts", "0", "--aug_train")
    aug = load_json(tmp_path / "aug" / "metrics.json")
    assert aug["num_train_examples"] == 5 and aug["transfer_files"][1].endswith("unlabeled_aug.tsv")
    # a stage 1 that starts from a stage 1 student takes up its trained projection
    caplog.set_level("INFO", logger="kd")
    run("--teacher_model", teacher, "--student_model", out1, "--data_dir", toy_data,
        "--output_dir", str(tmp_path / "again"), "--speed_texts", "0")
    assert f"projection W: from {out1}" in caplog.text


def test_init_from_teacher_copies_mapped_layers(tmp_path):
    teacher = load_classifier(write_teacher(tmp_path / "t4", num_layers=4))
    student = copy_teacher_layers(teacher, 2, layer_map(2, 4), "eager")
    s, t = student.state_dict(), teacher.state_dict()
    assert student.config.num_hidden_layers == 2
    source = {"encoder.layer.0.": "encoder.layer.1.", "encoder.layer.1.": "encoder.layer.3."}  # layers 2 and 4
    for k in s:
        k_T = next((k.replace(a, b) for a, b in source.items() if a in k), k)
        assert torch.equal(s[k], t[k_T]), k


# --- both stages end to end

def test_two_stages_end_to_end(tmp_path, teacher, toy_data, student_config, capsys):
    out1, out2 = str(tmp_path / "stage1"), str(tmp_path / "stage2")
    run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
        "--output_dir", out1)
    assert re.fullmatch(r"done: TinyBERT stage 1 \(intermediate layers\) \| [\d.]+x the teacher's speed \(batch 64, "
                        r"CPU\) \| mean loss [\d.]+ in its one epoch \| no dev score before stage 2 gives it its "
                        rf"predictions \| -> {out1}\n", capsys.readouterr().out)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "args.json", "metrics.json", PROJECTIONS_FILE,
                 "curves.png", "README.md"):
        assert os.path.exists(os.path.join(out1, name)), name
    assert sorted(os.listdir(tmp_path)) == ["stage1", "student.json", "teacher", "toy"]  # the stores were removed
    m1 = load_json(os.path.join(out1, "metrics.json"))
    epoch = m1["history"][-1]
    assert m1["layer_map"] == [[1, 2]] and {"train_loss_embd", "train_loss_hidn", "train_loss_attn"} <= set(epoch)
    assert epoch["train_loss_attn"] > 0  # attentions were returned
    assert epoch["train_loss"] == pytest.approx(epoch["train_loss_embd"] + epoch["train_loss_hidn"]
                                                + epoch["train_loss_attn"])  # L = L_embd + L_hidn + L_attn
    proj = torch.load(os.path.join(out1, PROJECTIONS_FILE))
    assert proj["state_dict"]["fit_dense.weight"].shape == (32, 16)

    # stage 2 on train_aug.tsv, teacher logits cached on disk
    write_examples(os.path.join(toy_data, "train_aug.tsv"),
                   [Example("good movie", "1"), Example("bad film", "0")] * 8)
    cache = str(tmp_path / "cache")
    run("--pred_distill", "--teacher_model", teacher, "--student_model", out1, "--data_dir", toy_data,
        "--output_dir", out2, "--aug_train", "--eval_step", "1", "--cache_dir", cache)
    m2 = load_json(os.path.join(out2, "metrics.json"))
    assert {"accuracy", "macro_f1"} <= set(m2["dev"]) and {"accuracy", "macro_f1"} <= set(m2["test"])
    # the transfer set was streamed into a store of its inputs, then tokenized from it
    [store] = [f for f in os.listdir(cache) if f.startswith("inputs_") and f.endswith(".offsets")]
    assert len(Inputs(os.path.join(cache, store[:-len(".offsets")]), pairs=False)) == m2["num_train_examples"] == 16
    assert "at_chance" in m2 and "ensemble" not in m2
    assert m2["teachers"] == [{"model": teacher, "kind": "bert", "weight": 1.0,
                               **{k: m2["teachers"][0][k] for k in ("num_params", "dev", "test")}}]
    assert m2["teacher_scores"]["test"] == m2["teachers"][0]["test"]  # scored here: no metrics.json needed
    assert capsys.readouterr().out.startswith(f"done: TinyBERT stage 2 (prediction layer) | dev accuracy "
                                              f"{m2['dev']['accuracy']:.4f}, test accuracy "
                                              f"{m2['test']['accuracy']:.4f} | ")
    assert m2["num_train_examples"] == 16 and m2["train_file"].endswith("train_aug.tsv")
    assert {"train_loss", "dev_accuracy"} <= set(m2["history"][-1])
    speed = m2["speed"]
    for batch in ("batch_64", "batch_1"):  # the same batch size for both, and speed-up = ratio of examples/s
        student, teacher_speed = speed["student"][batch], speed["teacher"][batch]
        assert student["batch_size"] == teacher_speed["batch_size"] == int(batch.split("_")[1])
        assert speed[f"speedup_{batch}"] == pytest.approx(student["examples_per_s"] / teacher_speed["examples_per_s"])
    assert not os.path.exists(os.path.join(out2, PROJECTIONS_FILE))
    assert {"curves.png", "README.md"} <= set(os.listdir(out2))
    assert load_classifier(out2).config.id2label == {0: "0", 1: "1"}
    # the teacher's logits and the tokenized transfer set, kept for later runs; none of it in the output
    assert len([f for f in os.listdir(cache) if f.startswith("teacher_logits_")]) == 1
    assert len([f for f in os.listdir(cache) if f.startswith("encoded_") and f.endswith(".json")]) == 1
    assert not [f for f in os.listdir(out2) if f.startswith("encoded_")]


def test_stage1_init_from_teacher(tmp_path, teacher, toy_data):
    out = str(tmp_path / "s1")
    run("--teacher_model", teacher, "--init_from_teacher", "--student_layers", "1", "--data_dir", toy_data,
        "--output_dir", out, "--max_train_examples", "16", "--speed_texts", "0")
    metrics = load_json(os.path.join(out, "metrics.json"))
    assert metrics["layer_map"] == [[1, 2]] and metrics["num_layers"] == 1
    assert "speed" not in metrics
    # equal widths: an identity projection, nothing to learn
    assert torch.load(os.path.join(out, PROJECTIONS_FILE))["state_dict"] == {}


@pytest.mark.parametrize("stage", ["intermediate", "prediction"])
def test_killed_run_resumes_to_the_same_metrics(stage, tmp_path, teacher, toy_data, student_config, monkeypatch):
    init = ["--student_config", student_config]  # width 16 vs 32: stage 1 trains the projection too
    if stage == "prediction":
        init = ["--pred_distill", "--eval_step", "3", "--student_model", str(tmp_path / "stage1")]
        run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
            "--output_dir", str(tmp_path / "stage1"), "--speed_texts", "0")

    def train(out, *extra):
        run("--teacher_model", teacher, *init, "--data_dir", toy_data, "--output_dir", str(out), "--num_train_epochs",
            "2", "--save_steps", "2", "--speed_texts", "0", *extra)
        return load_json(os.path.join(out, "metrics.json"))

    straight = train(tmp_path / "straight")
    # 4 batches per epoch: step 7 is mid-epoch 2, after the checkpoint of step 6
    resumed = kill_then_resume(monkeypatch, train, tmp_path / "killed", torch.optim.AdamW, kill_at=7)
    assert resumed["history"] == straight["history"] and resumed.get("test") == straight.get("test")
    weights_a, weights_b = (load_classifier(str(tmp_path / d)).state_dict() for d in ("straight", "killed"))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    if stage == "intermediate":
        proj_a, proj_b = (torch.load(tmp_path / d / PROJECTIONS_FILE)["state_dict"] for d in ("straight", "killed"))
        assert proj_a and all(torch.equal(proj_a[k], proj_b[k]) for k in proj_a)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_both_stages(tmp_path, teacher, toy_data, student_config):
    common = ["--teacher_model", teacher, "--data_dir", toy_data, "--max_seq_length", "32", "--train_batch_size", "8",
              "--num_train_epochs", "1", "--speed_texts", "0", "--no_cuda"]
    torchrun("src/tinybert/task_distill.py", *common, "--student_config", student_config,
             "--output_dir", tmp_path / "s1")
    torchrun("src/tinybert/task_distill.py", *common, "--pred_distill", "--student_model", tmp_path / "s1",
             "--output_dir", tmp_path / "s2")
    m1, m2 = (load_json(os.path.join(tmp_path, d, "metrics.json")) for d in ("s1", "s2"))
    assert m1["num_processes"] == m2["num_processes"] == 2
    assert torch.load(tmp_path / "s1" / PROJECTIONS_FILE)["state_dict"]["fit_dense.weight"].shape == (32, 16)
    assert m2["test"]["examples"] == 32 and m2["dev"]["examples"] == 32


def test_stage2_teacher_logits_on_the_device_in_the_main_process_first(tmp_path, teacher, toy_data, monkeypatch):
    """Stage 2's teacher logits are computed on the accelerator's device, by a teacher in eval mode, inside
    `accelerator.main_process_first()` (the main process fills --cache_dir, the other ranks read it).

    Guards the regression where the logits pass ran before `teacher.to(accelerator.device)`: on a GPU the
    teacher then computed them on the CPU. On a CPU both devices are the same, so the test records the order
    of events and fails unless the teacher was moved to the device before its logits pass.
    """
    events, real_to = [], torch.nn.Module.to
    real_predict, real_start = src.teachers.cache.predict_logits, task_distill.start_run

    def to(module, *args, **kwargs):
        out = real_to(module, *args, **kwargs)
        events.append(("to", id(module), next(module.parameters(), torch.empty(0)).device))
        return out

    def start_run(args):
        accelerator = real_start(args)
        real_first = accelerator.main_process_first

        @contextlib.contextmanager
        def main_process_first():
            with real_first():
                events.append(("first",))
                yield
                events.append(("first done",))

        accelerator.main_process_first = main_process_first
        events.append(("device", accelerator.device))
        return accelerator

    def predict_logits(model, *args, **kwargs):
        inputs, training = [], model.training
        hook = model.register_forward_pre_hook(lambda m, a, kw: inputs.append(kw["input_ids"].device),
                                               with_kwargs=True)
        try:
            return real_predict(model, *args, **kwargs)
        finally:
            hook.remove()
            events.append(("logits", id(model), next(model.parameters()).device, training, set(inputs)))

    monkeypatch.setattr(torch.nn.Module, "to", to)
    monkeypatch.setattr(task_distill, "start_run", start_run)
    monkeypatch.setattr(src.teachers.cache, "predict_logits", predict_logits)
    run("--pred_distill", "--teacher_model", teacher, "--student_model", teacher, "--data_dir", toy_data,
        "--output_dir", str(tmp_path / "out"), "--no_cuda", "--speed_texts", "0", "--cache_dir", str(tmp_path / "c"))

    [(_, device)] = [e for e in events if e[0] == "device"]
    logits = next(i for i, e in enumerate(events) if e[0] == "logits")  # the transfer set's (then dev and test's)
    _, teacher_id, params_device, training, input_devices = events[logits]
    assert params_device == device and input_devices == {device} and not training
    moves = [e[2] for e in events[:logits] if e[0] == "to" and e[1] == teacher_id]
    assert moves and moves[-1] == device, "the teacher computed its logits before it was moved to the device"
    assert events[logits - 1] == ("first",) and events[logits + 1] == ("first done",)


# --- clear errors

def test_missing_train_aug(tmp_path, teacher, toy_data, student_config):
    with pytest.raises(SystemExit, match="train_aug.tsv does not exist"):
        run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
            "--output_dir", str(tmp_path / "o"), "--aug_train")


def test_tokenizer_mismatch(tmp_path, teacher, toy_data):
    other = write_tiny_bert(tmp_path / "other", num_layers=1, vocab=VOCAB[:-3])
    with pytest.raises(SystemExit, match="tokenizer of the student .* differs"):
        run("--teacher_model", teacher, "--student_model", other, "--data_dir", toy_data,
            "--output_dir", str(tmp_path / "o"))


def test_non_divisible_layers_and_heads(tmp_path, toy_data, student_config):
    teacher3 = write_teacher(tmp_path / "t3", num_layers=3)
    with pytest.raises(SystemExit, match="cannot map 2 student layers uniformly onto 3"):
        run("--teacher_model", teacher3, "--init_from_teacher", "--student_layers", "2", "--data_dir", toy_data,
            "--output_dir", str(tmp_path / "o"))
    heads4 = write_teacher(tmp_path / "h4", num_layers=1, heads=4)
    with pytest.raises(SystemExit, match="2 heads, the teacher 4"):
        run("--teacher_model", heads4, "--student_config", student_config, "--data_dir", toy_data,
            "--output_dir", str(tmp_path / "o"))


def test_existing_output_dir(tmp_path, teacher, toy_data, student_config):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(SystemExit, match="exists and is not empty"):
        run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
            "--output_dir", str(out))


def test_do_eval_and_do_predict_score_a_trained_student(tmp_path, teacher, toy_data):
    """The original TinyBERT README's --do_eval command (no --teacher_model), and --do_predict."""
    out = tmp_path / "eval"
    task_distill.main(["--do_eval", "--do_predict", "--student_model", teacher, "--data_dir", toy_data,
                       "--task_name", "toy", "--output_dir", str(out), "--max_seq_length", "32"])
    results = load_json(out / "eval_results.json")
    assert {"dev", "test"} <= set(results) and results["test"]["examples"] == 32
    rows = (out / "test_predictions.tsv").read_text().splitlines()
    assert rows[0].startswith("label\tp_0\tp_1") and len(rows) == 33
    with pytest.raises(SystemExit, match="--teacher_model is required for training"):
        task_distill.main(["--student_model", teacher, "--data_dir", toy_data, "--output_dir", str(tmp_path / "x")])
    # --overwrite_output_dir would delete the model
    with pytest.raises(SystemExit, match="--output_dir .* is --student_model .*: a run never writes"):
        task_distill.main(["--do_eval", "--student_model", teacher, "--data_dir", toy_data, "--output_dir", teacher,
                           "--overwrite_output_dir"])
    assert os.path.isfile(os.path.join(teacher, "config.json"))


@pytest.mark.parametrize("scores", [False, True], ids=["pairs", "pair_scores"])
def test_pairs_and_scores_through_both_stages(tmp_path, scores):
    """A pair teacher (a classifier, or a regressor) trained by bert_classification.py; both stages read the
    pairs as it does, and stage 2 learns its logits (soft cross-entropy) or its scores (MSE), kept by the main
    metric; a single-text data directory is refused with one line."""
    data = write_toy_pairs(tmp_path / "data", scores=scores)
    teacher = str(tmp_path / "teacher")
    bert_classification.main(["--data_dir", data, "--bert_model", write_tiny_bert(tmp_path / "bert"), "--output_dir",
                              teacher, "--num_train_epochs", "8", "--learning_rate", "3e-3", "--train_batch_size", "8",
                              "--max_seq_length", "32", "--warmup_proportion", "0"])
    out1, out2 = str(tmp_path / "s1"), str(tmp_path / "s2")
    run("--teacher_model", teacher, "--init_from_teacher", "--student_layers", "1", "--data_dir", data,
        "--output_dir", out1, "--speed_texts", "0")
    run("--pred_distill", "--teacher_model", teacher, "--student_model", out1, "--data_dir", data,
        "--output_dir", out2, "--num_train_epochs", "6", "--learning_rate", "1e-3", "--speed_texts", "8")
    m2 = load_json(os.path.join(out2, "metrics.json"))
    metric = "pearson" if scores else "accuracy"
    assert m2["text_pair"] is True and m2["main_metric"] == metric
    assert m2["dev"][metric] == max(h[f"dev_{metric}"] for h in m2["history"] if f"dev_{metric}" in h)
    assert m2["test"][metric] > (0.5 if scores else 0.75)  # chance: 0 / 0.5
    assert m2[f"test_{metric}_vs_teacher"] == pytest.approx(m2["test"][metric] / m2["teacher_scores"]["test"][metric])
    student = load_classifier(out2)
    assert student.config.text_pair is True and student.config.num_labels == (1 if scores else 2)
    with pytest.raises(SystemExit, match=r"^error: \S+toy/(dev|train).tsv holds single texts, but \S+teacher was "
                                         r"trained on sentence pairs$"):
        run("--pred_distill", "--teacher_model", teacher, "--student_model", out1, "--data_dir",
            write_toy_data(tmp_path / "toy"), "--output_dir", str(tmp_path / "s3"))


def test_stage1_end_line_gives_the_last_epochs_loss_as_a_share_of_the_first(capsys):
    args = argparse.Namespace(pred_distill=False, output_dir="out")
    task_distill.summarise(args, {"history": [{"train_loss": 8.0}, {"train_loss": 2.0}]})
    assert capsys.readouterr().out == ("done: TinyBERT stage 1 (intermediate layers) | mean loss 2.0000 in the last "
                                       "epoch, 25.0% of the first's (8.0000) | no dev score before stage 2 gives "
                                       "it its predictions | -> out\n")
