import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from src.common import files as runs
from src.common.cli import InputError
from src.distill_task_specific_bert.bert_classification import main
from src.modeling import bert as modeling
from src.modeling.bert import (
    check_model_source,
    encode_texts,
    load_classifier,
    load_tokenizer,
    model_label_list,
    predict_logits,
)
from src.train.engine import adamw
from tests.tiny import (
    interrupt,
    kill_then_resume,
    script_env,
    signal_after_checkpoint,
    torchrun,
    torchrun_cmd,
    write_toy_data,
    write_toy_pairs,
)

FAST = ["--num_train_epochs", "6", "--learning_rate", "3e-3", "--train_batch_size", "8", "--max_seq_length", "32",
        "--warmup_proportion", "0", "--no_cuda"]


def run(data_dir, bert, out, *extra):
    main(["--data_dir", str(data_dir), "--bert_model", str(bert), "--output_dir", str(out), *FAST, *extra])
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_end_to_end_learns_the_toy_task(tiny_bert, toy_data, tmp_path, capsys, caplog):
    out = tmp_path / "teacher"
    caplog.set_level("INFO", logger="kd")
    metrics = run(toy_data, tiny_bert, out, "--eval_step", "10")
    assert capsys.readouterr().out == (f"done: teacher | dev accuracy {metrics['dev']['accuracy']:.4f}, test accuracy "
                                       f"{metrics['test']['accuracy']:.4f} | -> {out}\n")
    assert metrics["at_chance"] is False and metrics["majority_rate"] == 0.5 and "WARNING" not in caplog.text
    # the plan before the first epoch, and the time left after 20 steps (8 steps of 8 examples per epoch)
    assert "6 epoch(s) x 8 batches: 48 optimizer steps, 0 done" in caplog.text
    assert re.search(r"s per optimizer step: about \d+ (s|min) for the 28 steps left", caplog.text)
    assert {"config.json", "model.safetensors", "tokenizer.json", "args.json", "metrics.json", "curves.png",
            "README.md"} <= set(os.listdir(out))  # the curves and the model card too
    assert metrics["test"]["accuracy"] >= 0.8  # chance is 0.5; the label is one token
    assert metrics["test"]["examples"] == 32
    assert metrics["dev"]["accuracy"] == max(h["dev_accuracy"] for h in metrics["history"])
    assert len(metrics["history"]) > 6  # per epoch plus every 10 steps
    epochs = [h for h in metrics["history"] if "train_loss" in h]  # one per epoch, 64 examples each
    assert len(epochs) == 6 and metrics["train_examples_per_s"] == pytest.approx(6 * 64 / metrics["train_time_s"])
    assert not os.path.exists(tmp_path / ".teacher.tmp")  # staging dir moved into place
    assert load_tokenizer(str(out)).model_max_length == 32  # pipeline(...) truncates at the trained length


def test_a_teacher_that_learned_nothing_warns_at_chance(tiny_bert, toy_data, tmp_path, caplog):
    """Next to no learning (a learning rate of 1e-12) on a dev set that is 3/4 one class: the dev accuracy cannot
    beat the majority-class rate, and the run says so instead of reporting it like any other."""
    dev = Path(toy_data) / "dev.tsv"
    header, *rows = dev.read_text().splitlines()
    dev.write_text("\n".join([header, *(r for r in rows if r.startswith("1")),
                              *[r for r in rows if r.startswith("0")][:5]]) + "\n")
    caplog.set_level("INFO", logger="kd")
    metrics = run(toy_data, tiny_bert, tmp_path / "t", "--num_train_epochs", "1", "--learning_rate", "1e-12")
    assert metrics["at_chance"] is True and metrics["majority_rate"] == pytest.approx(16 / 21)
    assert (f"WARNING: dev accuracy {metrics['dev']['accuracy']:.4f} is not above the majority-class rate 0.7619: "
            "the model learned nothing beyond the largest class; try more epochs, a higher learning rate or more data"
            in caplog.text)


def test_string_labels_round_trip_through_the_saved_model(tiny_bert, tmp_path):
    data = tmp_path / "data"
    write_toy_data(data, header=False)
    for split in ("train", "dev", "test"):  # headerless layout with string labels
        path = data / f"{split}.tsv"
        path.write_text(path.read_text().replace("1\t", "pos\t").replace("0\t", "neg\t"))
    run(data, tiny_bert, tmp_path / "t", "--num_train_epochs", "1")
    model = load_classifier(str(tmp_path / "t"))
    assert model_label_list(model) == ["neg", "pos"]


def test_unknown_token_warning_and_extend_vocab(tiny_bert, tmp_path, caplog):
    data = tmp_path / "zh"
    write_toy_data(data, lang="zh")
    for split in ("train", "dev", "test"):  # characters the tiny vocab lacks
        path = data / f"{split}.tsv"
        path.write_text(path.read_text().translate(str.maketrans("演员故事", "猫狗鱼鸟")))
    run(data, tiny_bert, tmp_path / "plain", "--num_train_epochs", "1")
    assert "[UNK] for" in caplog.text and "--extend_vocab" in caplog.text

    caplog.clear()
    metrics = run(data, tiny_bert, tmp_path / "ext", "--num_train_epochs", "1", "--extend_vocab")
    assert metrics["added_tokens"] == 4 and "[UNK] for" not in caplog.text
    tokenizer = load_tokenizer(str(tmp_path / "ext"))
    assert tokenizer.tokenize("猫狗好") == ["猫", "狗", "好"]
    model = load_classifier(str(tmp_path / "ext"))
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)


def test_encode_texts_truncates_keeping_sep_and_counts(tiny_bert):
    tokenizer = load_tokenizer(tiny_bert)
    features, n_truncated = encode_texts(tokenizer, ["good movie", "the movie was very very good"], 5, [1, 0])
    assert n_truncated == 1
    assert features[1]["input_ids"][-1] == tokenizer.sep_token_id and len(features[1]["input_ids"]) == 5
    assert features[0]["labels"] == 1 and len(features[0]["input_ids"]) == 4


def test_adamw_groups_every_parameter_once(tiny_bert):
    model = load_classifier(tiny_bert)
    embeddings = model.get_input_embeddings().weight
    optimizer = adamw(model.named_parameters(), 2e-5, 0.01, [embeddings], 1e-3)
    grouped = [p for g in optimizer.param_groups for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == len(list(model.parameters()))
    decay, no_decay, emb = optimizer.param_groups
    assert (decay["lr"], decay["weight_decay"]) == (2e-5, 0.01) and no_decay["weight_decay"] == 0.0
    assert emb["params"] == [embeddings] and (emb["lr"], emb["weight_decay"]) == (1e-3, 0.0)
    assert all(n.endswith(("bias", "LayerNorm.weight")) for n, p in model.named_parameters()
               if any(p is q for q in no_decay["params"]))


def test_predict_logits_batched_equals_one_at_a_time(tiny_bert):
    model, tokenizer = load_classifier(tiny_bert), load_tokenizer(tiny_bert)
    texts = ["good", "the movie was very bad .", "a film", "plot and music and actor is good"]
    batched = predict_logits(model, tokenizer, texts, batch_size=3, show_progress=False)
    single = torch.cat([predict_logits(model, tokenizer, [t], show_progress=False) for t in texts])
    assert torch.allclose(batched, single, atol=1e-5)


def test_overwrite_output_dir_replaces_the_old_result(tiny_bert, toy_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    run(toy_data, tiny_bert, out, "--num_train_epochs", "1", "--overwrite_output_dir")
    assert not (out / "old.txt").exists() and (out / "metrics.json").exists()


def test_hub_ids_pass_the_local_check_when_the_hub_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(modeling, "hub_reachable", lambda name: True)
    assert check_model_source("bert-base-chinese") == "bert-base-chinese"
    assert check_model_source("huawei-noah/TinyBERT_General_4L_312D") == "huawei-noah/TinyBERT_General_4L_312D"
    with pytest.raises(InputError):
        check_model_source(str(tmp_path / "models" / "teacher"))


def test_an_unreachable_hub_id_fails_at_once_naming_the_offline_default(toy_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not modeling.hub_reachable("bert-base-chinese")
    start = time.perf_counter()
    with pytest.raises(SystemExit, match=r"^error: bert-base-chinese is a hub id, and the hub cannot be reached "
                                         r"\(offline\).*leave the model flag out for the bundled offline MiniLM"):
        run(toy_data, "bert-base-chinese", tmp_path / "out")
    assert time.perf_counter() - start < 10  # no minute of retries


def test_killed_run_resumes_to_the_same_metrics(tiny_bert, toy_data, tmp_path, monkeypatch):
    args = ["--num_train_epochs", "2", "--save_steps", "3", "--eval_step", "4"]
    straight = run(toy_data, tiny_bert, tmp_path / "straight", *args)
    # step 11 is mid-epoch 2, after the checkpoint of step 9
    resumed = kill_then_resume(monkeypatch, lambda out, *extra: run(toy_data, tiny_bert, out, *args, *extra),
                               tmp_path / "killed", torch.optim.AdamW, kill_at=11)
    assert resumed["history"] == straight["history"]
    assert resumed["test"] == straight["test"]
    weights_a = load_classifier(str(tmp_path / "straight")).state_dict()
    weights_b = load_classifier(str(tmp_path / "killed")).state_dict()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert not (tmp_path / "killed" / "resume").exists()
    # --resume on a finished run is a no-op: it neither fails nor touches the result
    before = {f: (tmp_path / "killed" / f).read_bytes() for f in os.listdir(tmp_path / "killed")}
    assert run(toy_data, tiny_bert, tmp_path / "killed", *args, "--resume") == resumed
    assert {f: (tmp_path / "killed" / f).read_bytes() for f in os.listdir(tmp_path / "killed")} == before


def test_kill_between_the_renames_of_a_checkpoint_swap_resumes(tiny_bert, toy_data, tmp_path, monkeypatch):
    """The window `complete_interrupted_moves` closes: the old checkpoint moved aside, the new not yet in place."""
    args = ["--num_train_epochs", "2", "--save_steps", "3"]
    straight = run(toy_data, tiny_bert, tmp_path / "straight", *args)
    real_replace, swaps = os.replace, []

    def replace_then_die(src, dst):
        if str(src).endswith("resume.new"):
            swaps.append(src)
            if len(swaps) == 2:  # the second checkpoint: the first is now in resume.new.old
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(toy_data, tiny_bert, tmp_path / "killed", *args)
    monkeypatch.setattr(runs.os, "replace", real_replace)
    staged = tmp_path / ".killed.tmp"
    assert not (staged / "resume").exists() and (staged / "resume.new.old").is_dir()
    with pytest.raises(SystemExit, match="holds an interrupted run"):  # a fresh start would delete it
        run(toy_data, tiny_bert, tmp_path / "killed", *args)
    assert run(toy_data, tiny_bert, tmp_path / "killed", *args, "--resume")["history"] == straight["history"]


def test_a_finished_run_killed_before_its_move_is_moved_not_retrained(tiny_bert, toy_data, tmp_path, caplog):
    out, staged = tmp_path / "out", tmp_path / ".out.tmp"
    run(toy_data, tiny_bert, staged, "--num_train_epochs", "1")  # a finished run, as the staging dir holds it
    (staged / "resume").mkdir()  # its checkpoint not yet dropped
    (tmp_path / ".out.tmp.old").mkdir()  # the previous result, moved aside by the first rename
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kd"):
        assert run(toy_data, tiny_bert, out, "--resume")["test"]["examples"] == 32
    assert "interrupted move" in caplog.text and "epoch 1" not in caplog.text  # moved, not retrained
    assert not staged.exists() and not (tmp_path / ".out.tmp.old").exists() and not (out / "resume").exists()


def test_a_killed_overwrite_of_a_finished_run_resumes(tiny_bert, toy_data, tmp_path, monkeypatch):
    args = ["--num_train_epochs", "2", "--save_steps", "3", "--overwrite_output_dir"]
    straight = run(toy_data, tiny_bert, tmp_path / "straight", *args)
    out = tmp_path / "out"
    old = run(toy_data, tiny_bert, out, "--num_train_epochs", "1")
    interrupt(monkeypatch, lambda: run(toy_data, tiny_bert, out, *args), torch.optim.AdamW, kill_at=11)
    assert json.loads((out / "metrics.json").read_text()) == old  # the old result stays until the new is done
    assert run(toy_data, tiny_bert, out, *args, "--resume")["history"] == straight["history"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_signalled_process_resumes_to_the_same_metrics(sig, tiny_bert, toy_data, tmp_path):
    """A real signal at whatever point the process has reached after its 5th step (maybe mid-save): SIGKILL,
    or SIGINT (Ctrl-C), which ends the process with one line and exit code 130."""
    args = ["--num_train_epochs", "12", "--save_steps", "1", "--eval_step", "5"]
    straight = run(toy_data, tiny_bert, tmp_path / "straight", *args)
    out = tmp_path / "killed"
    state_file = tmp_path / ".killed.tmp" / "resume" / "trainer_state.json"
    cmd = [sys.executable, "src/distill_task_specific_bert/bert_classification.py", "--data_dir", toy_data,
           "--bert_model", tiny_bert, "--output_dir", str(out), *FAST, *args]
    code = signal_after_checkpoint(cmd, state_file, sig, tmp_path / "stderr.txt")  # 91 of 96 steps to go
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130), "the run ended before the signal"
    if sig == signal.SIGINT:
        assert (tmp_path / "stderr.txt").read_text().splitlines()[-1] == "interrupted; rerun with --resume to continue"
    assert not out.exists()
    resumed = run(toy_data, tiny_bert, out, *args, "--resume")
    assert resumed["history"] == straight["history"] and resumed["test"] == straight["test"]


def test_the_schedule_waits_for_steps_the_fp16_scaler_skipped(tiny_bert, toy_data, tmp_path, monkeypatch):
    """A skipped optimizer step (fp16 overflow) does not advance the schedule: stuck at the start of warm-up
    (learning rate 0), the weights never move."""
    from accelerate import Accelerator

    monkeypatch.setattr(Accelerator, "optimizer_step_was_skipped", property(lambda self: True))
    run(toy_data, tiny_bert, tmp_path / "out", "--num_train_epochs", "1", "--warmup_proportion", "0.5")
    before, after = load_classifier(str(tiny_bert)).state_dict(), load_classifier(str(tmp_path / "out")).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("bert.encoder"))


def test_killed_run_with_gradient_accumulation_resumes_to_the_same_metrics(tiny_bert, toy_data, tmp_path,
                                                                           monkeypatch):
    args = ["--num_train_epochs", "2", "--save_steps", "1", "--eval_step", "3", "--gradient_accumulation_steps", "2"]
    straight = run(toy_data, tiny_bert, tmp_path / "straight", *args)
    assert [h["step"] for h in straight["history"] if "train_loss" in h] == [4, 8]  # 8 batches of 8, 2 per step
    resumed = kill_then_resume(monkeypatch, lambda out, *extra: run(toy_data, tiny_bert, out, *args, *extra),
                               tmp_path / "killed", torch.optim.AdamW, kill_at=6)
    assert resumed["history"] == straight["history"] and resumed["test"] == straight["test"]


@pytest.mark.slow
def test_bf16_teacher_learns_the_toy_task(tiny_bert, toy_data, tmp_path):
    """In its own process: Accelerate's state, once made for fp32 by another test, refuses a new precision."""
    out = tmp_path / "bf16"
    subprocess.run([sys.executable, "src/distill_task_specific_bert/bert_classification.py", "--data_dir", toy_data,
                    "--bert_model", tiny_bert, "--output_dir", str(out), *FAST, "--bf16"], check=True,
                   env=script_env(), capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8 and json.loads((out / "args.json").read_text())["bf16"]


def test_resume_with_other_flags_is_refused(tiny_bert, toy_data, tmp_path, monkeypatch):
    args = ["--num_train_epochs", "2", "--save_steps", "3"]
    interrupt(monkeypatch, lambda: run(toy_data, tiny_bert, tmp_path / "out", *args), torch.optim.AdamW, kill_at=5)
    with pytest.raises(SystemExit, match=r"other flags than the interrupted run: --learning_rate 0.001 \(was 0.003\)"):
        run(toy_data, tiny_bert, tmp_path / "out", *args, "--resume", "--learning_rate", "1e-3")
    assert run(toy_data, tiny_bert, tmp_path / "out", *args, "--resume")["history"][-1]["step"] == 16


def test_same_seed_same_metrics(tiny_bert, toy_data, tmp_path):
    a = run(toy_data, tiny_bert, tmp_path / "a", "--num_train_epochs", "2")
    b = run(toy_data, tiny_bert, tmp_path / "b", "--num_train_epochs", "2")
    assert a["history"] == b["history"] and a["test"] == b["test"]
    weights_a = load_classifier(str(tmp_path / "a")).state_dict()
    weights_b = load_classifier(str(tmp_path / "b")).state_dict()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_resume_without_checkpoint_is_an_error(tiny_bert, toy_data, tmp_path):
    with pytest.raises(SystemExit, match="nothing to resume"):
        run(toy_data, tiny_bert, tmp_path / "never", "--resume")


@pytest.mark.slow
def test_torchrun_run_killed_and_resumed_under_torchrun_repeats_a_straight_one(tiny_bert, toy_data, tmp_path):
    script = "src/distill_task_specific_bert/bert_classification.py"
    args = ["--data_dir", toy_data, "--bert_model", tiny_bert, *FAST, "--num_train_epochs", "12", "--save_steps",
            "1", "--eval_step", "5"]
    torchrun(script, *args, "--output_dir", tmp_path / "straight")
    out = tmp_path / "killed"
    code = signal_after_checkpoint([*torchrun_cmd(), script, *args, "--output_dir", str(out)],
                                   tmp_path / ".killed.tmp" / "resume" / "trainer_state.json", signal.SIGKILL,
                                   tmp_path / "stderr.txt", min_step=3)  # of 48: 4 batches per rank and epoch
    assert code == -signal.SIGKILL and not out.exists(), "the run ended before it could be killed"
    torchrun(script, *args, "--output_dir", out, "--resume")
    straight, resumed = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("straight", "killed"))
    assert resumed["num_processes"] == 2 and resumed["history"] == straight["history"]
    assert resumed["test"] == straight["test"]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_score_every_test_example_once(tiny_bert, tmp_path):
    data = write_toy_data(tmp_path / "odd", n_train=64, n_dev=30, n_test=31)  # 31: uneven across 2 ranks
    out = tmp_path / "ddp"
    torchrun("src/distill_task_specific_bert/bert_classification.py", "--data_dir", data, "--bert_model", tiny_bert,
             "--output_dir", out, *FAST, "--num_train_epochs", "1")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_processes"] == 2
    assert metrics["test"]["examples"] == 31 and metrics["dev"]["examples"] == 30


def test_sentence_pairs_are_read_as_bert_pairs_and_learned(tiny_bert, tmp_path, capsys):
    """The label is the second text's cue: only the pair input (both texts, token type ids) can learn it."""
    data = write_toy_pairs(tmp_path / "pairs")
    out = tmp_path / "teacher"
    metrics = run(data, tiny_bert, out, "--num_train_epochs", "8")
    assert metrics["text_pair"] is True and metrics["main_metric"] == "accuracy" and metrics["task"] is None
    assert metrics["test"]["accuracy"] >= 0.8
    assert {"f1", "mcc", "macro_f1"} <= set(metrics["test"])  # two classes: F1 of class 1 too
    assert load_classifier(str(out)).config.text_pair is True
    tokenizer = load_tokenizer(str(out))
    features, n_cut = encode_texts(tokenizer, [("good movie", "bad plot , really")], 7)
    # longest-first: the longer second text loses its pieces first; [CLS] a [SEP] b [SEP] with segment ids
    assert n_cut == 1 and tokenizer.convert_ids_to_tokens(features[0]["input_ids"]) == [
        "[CLS]", "good", "movie", "[SEP]", "bad", "plot", "[SEP]"]
    assert features[0]["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert capsys.readouterr().out.startswith("done: teacher | dev accuracy ")


def test_scores_train_a_regressor_chosen_by_pearson(tiny_bert, tmp_path, capsys):
    data = write_toy_pairs(tmp_path / "sts", scores=True)
    out = tmp_path / "teacher"
    metrics = run(data, tiny_bert, out, "--num_train_epochs", "8")
    assert metrics["labels"] == ["score"] and metrics["main_metric"] == "pearson"
    assert metrics["dev"]["pearson"] == max(h["dev_pearson"] for h in metrics["history"])
    assert metrics["test"]["pearson"] > 0.5 and {"spearman", "mse"} <= set(metrics["test"])
    model = load_classifier(str(out))
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    assert metrics["at_chance"] is False and "majority_rate" not in metrics
    assert capsys.readouterr().out.startswith(f"done: teacher | dev pearson {metrics['dev']['pearson']:.4f}")


def test_pair_and_score_bad_input_is_one_line(tiny_bert, tmp_path):
    data = write_toy_pairs(tmp_path / "pairs")
    (Path(data) / "dev.tsv").write_text("label\ttext\n1\tgood\n0\tbad\n")
    with pytest.raises(SystemExit, match=r"^error: \S+pairs: the dev split holds single texts, train sentence pairs$"):
        run(data, tiny_bert, tmp_path / "t1")
    train = Path(data) / "train.tsv"
    train.write_text(train.read_text().replace("\tbad plot", "\t"))
    (Path(data) / "train.tsv").write_text("label\ttext_a\ttext_b\n1\tgood\tfilm\n0\tbad\t\n")
    with pytest.raises(SystemExit, match=r"^error: \S+train.tsv:3: the pair's second text is missing"):
        run(data, tiny_bert, tmp_path / "t2")
    scores = write_toy_pairs(tmp_path / "sts", scores=True)
    (Path(scores) / "test.tsv").write_text("label\ttext_a\ttext_b\n1.5\ta\tb\nhigh\ta\tb\n")
    with pytest.raises(SystemExit, match=r"^error: \S+test.tsv: the score of example 2 \('high'\) is not a number$"):
        run(scores, tiny_bert, tmp_path / "t3")
    assert not any(p.name.startswith(("t1", "t2", "t3", ".t")) for p in tmp_path.iterdir())


def test_report_to_tensorboard_writes_every_loss_term_and_the_dev_scores(tiny_bert, toy_data, tmp_path):
    """--report_to tensorboard: event files in the run directory's runs/<run name>/, which tensorboard reads back
    with the loss, the learning rate and the dev scores named; a missing tracker package is one line."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "teacher"
    run(toy_data, tiny_bert, out, "--num_train_epochs", "2", "--report_to", "tensorboard", "--logging_steps", "2",
        "--run_name", "toy")
    events = EventAccumulator(str(out / "runs" / "toy"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "train/examples_per_s", "dev/accuracy", "dev/f1"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == list(range(2, 17, 2))  # 8 steps an epoch, every 2nd
    assert [e.step for e in events.Scalars("dev/accuracy")] == [8, 16]
    assert all(e.value > 0 for e in events.Scalars("train/examples_per_s"))
    assert events.Scalars("train/learning_rate")[0].value == pytest.approx(3e-3 * (1 - 2 / 16))  # linear decay


def test_a_missing_tracker_is_one_line(tiny_bert, toy_data, tmp_path, monkeypatch):
    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "is_wandb_available", lambda: False)
    with pytest.raises(SystemExit, match=r"^error: --report_to wandb: the wandb package is not installed "
                                         r"\(pip install wandb\)$"):
        run(toy_data, tiny_bert, tmp_path / "t", "--report_to", "wandb")


def test_a_length_past_the_models_positions_is_refused_before_any_work(tiny_bert, toy_data, tmp_path):
    with pytest.raises(SystemExit, match=r"^error: --max_seq_length 100 is above the 64 positions of --bert_model "
                                         r"\S+ \(its max_position_embeddings\): use at most 64$"):
        main(["--data_dir", toy_data, "--bert_model", tiny_bert, "--output_dir",
              str(tmp_path / "out"), "--max_seq_length", "100"])
    assert not (tmp_path / "out").exists()
