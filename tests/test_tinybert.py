"""TinyBERT task distillation: losses, layer maps, projections, student init, both stages end to end, errors."""

import contextlib
import json
import os

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

import src.teacher_logits
from src.cli import InputError
from src.data import Example, write_examples
from src.losses import attention_mse, hidden_mse, soft_cross_entropy, uniform_layer_map
from src.modeling import load_classifier
from src.runs import load_json
from src.tinybert import task_distill
from src.tinybert.student import PROJECTIONS_FILE, Projections, copy_teacher_layers, layer_map, task_data_dir
from tests.tiny import VOCAB, kill_then_resume, torchrun, write_tiny_bert


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


@pytest.fixture
def student_config(tmp_path):
    path = tmp_path / "student.json"
    path.write_text(json.dumps({"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                "intermediate_size": 32, "max_position_embeddings": 64}))
    return str(path)


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


def test_task_names():
    assert task_data_dir("data", "SST-2") == os.path.join("data", "sst2")
    assert task_data_dir("data", "reviews") == os.path.join("data", "reviews")


def test_projection_shapes():
    pairs = [(1, 2), (2, 4)]
    proj = Projections(16, 32, pairs)
    hidden_S = [torch.randn(2, 5, 16) for _ in range(3)]  # embeddings + 2 layers
    out = proj(hidden_S)
    assert [tuple(h.shape) for h in out] == [(2, 5, 32)] * 3
    assert len(list(proj.parameters())) == 2 * 3
    same = Projections(32, 32, pairs)
    assert not list(same.parameters()) and same(hidden_S)[1] is hidden_S[1]


def test_eager_attention_one_tensor_per_layer(teacher):
    model = load_classifier(teacher, attn_implementation="eager").eval()
    out = model(input_ids=torch.tensor([[2, 5, 6, 3]]), output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (1, 2, 4, 4)
    assert len(out.hidden_states) == 3
    assert torch.allclose(out.attentions[1].sum(-1), torch.ones(1, 2, 4))  # probabilities


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

def test_two_stages_end_to_end(tmp_path, teacher, toy_data, student_config):
    out1, out2 = str(tmp_path / "stage1"), str(tmp_path / "stage2")
    run("--teacher_model", teacher, "--student_config", student_config, "--data_dir", toy_data,
        "--output_dir", out1)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "args.json", "metrics.json", PROJECTIONS_FILE):
        assert os.path.exists(os.path.join(out1, name)), name
    m1 = load_json(os.path.join(out1, "metrics.json"))
    epoch = m1["history"][-1]
    assert m1["layer_map"] == [[1, 2]] and {"train_loss_embd", "train_loss_hidn", "train_loss_attn"} <= set(epoch)
    assert epoch["train_loss_attn"] > 0  # attentions were returned
    assert epoch["train_loss"] == pytest.approx(epoch["train_loss_embd"] + epoch["train_loss_hidn"]
                                                + epoch["train_loss_attn"])  # L = L_embd + L_hidn + L_attn
    proj = torch.load(os.path.join(out1, PROJECTIONS_FILE))
    assert proj["state_dict"]["maps.0.weight"].shape == (32, 16) and len(proj["layer_map"]) == 1

    # stage 2 on train_aug.tsv, teacher logits cached on disk
    write_examples(os.path.join(toy_data, "train_aug.tsv"),
                   [Example("good movie", "1"), Example("bad film", "0")] * 8)
    cache = str(tmp_path / "cache")
    run("--pred_distill", "--teacher_model", teacher, "--student_model", out1, "--data_dir", toy_data,
        "--output_dir", out2, "--aug_train", "--eval_step", "1", "--cache_dir", cache)
    m2 = load_json(os.path.join(out2, "metrics.json"))
    assert {"accuracy", "macro_f1"} <= set(m2["dev"]) and {"accuracy", "macro_f1"} <= set(m2["test"])
    assert m2["num_train_examples"] == 16 and m2["train_file"].endswith("train_aug.tsv")
    assert {"train_loss", "dev_accuracy"} <= set(m2["history"][-1])
    speed = m2["speed"]
    for batch in ("batch_64", "batch_1"):  # the same batch size for both, and speed-up = ratio of examples/s
        student, teacher_speed = speed["student"][batch], speed["teacher"][batch]
        assert student["batch_size"] == teacher_speed["batch_size"] == int(batch.split("_")[1])
        assert speed[f"speedup_{batch}"] == pytest.approx(student["examples_per_s"] / teacher_speed["examples_per_s"])
    assert not os.path.exists(os.path.join(out2, PROJECTIONS_FILE))
    assert load_classifier(out2).config.id2label == {0: "0", 1: "1"}
    assert len(os.listdir(cache)) == 1


def test_stage1_init_from_teacher(tmp_path, teacher, toy_data):
    out = str(tmp_path / "s1")
    run("--teacher_model", teacher, "--init_from_teacher", "--student_layers", "1", "--data_dir", toy_data,
        "--output_dir", out, "--max_train_examples", "16", "--speed_texts", "0")
    metrics = load_json(os.path.join(out, "metrics.json"))
    assert metrics["layer_map"] == [[1, 2]] and metrics["num_layers"] == 1
    assert "speed" not in metrics
    # equal widths: identity projections, nothing to learn
    assert torch.load(os.path.join(out, PROJECTIONS_FILE))["state_dict"] == {}


@pytest.mark.parametrize("stage", ["intermediate", "prediction"])
def test_killed_run_resumes_to_the_same_metrics(stage, tmp_path, teacher, toy_data, student_config, monkeypatch):
    init = ["--student_config", student_config]  # width 16 vs 32: stage 1 trains projections too
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
    assert torch.load(tmp_path / "s1" / PROJECTIONS_FILE)["state_dict"]["maps.0.weight"].shape == (32, 16)
    assert m2["test"]["examples"] == 32 and m2["dev"]["examples"] == 32


def test_stage2_teacher_logits_on_the_device_in_the_main_process_first(tmp_path, teacher, toy_data, monkeypatch):
    """Stage 2's teacher logits are computed on the accelerator's device, by a teacher in eval mode, inside
    `accelerator.main_process_first()` (the main process fills --cache_dir, the other ranks read it).

    Guards the regression where the logits pass ran before `teacher.to(accelerator.device)`: on a GPU the
    teacher then computed them on the CPU. On a CPU both devices are the same, so the test records the order
    of events and fails unless the teacher was moved to the device before its logits pass.
    """
    events, real_to = [], torch.nn.Module.to
    real_predict, real_start = src.teacher_logits.predict_logits, task_distill.start_run

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
    monkeypatch.setattr(src.teacher_logits, "predict_logits", predict_logits)
    run("--pred_distill", "--teacher_model", teacher, "--student_model", teacher, "--data_dir", toy_data,
        "--output_dir", str(tmp_path / "out"), "--no_cuda", "--speed_texts", "0")

    [(_, device)] = [e for e in events if e[0] == "device"]
    [logits] = [i for i, e in enumerate(events) if e[0] == "logits"]
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
