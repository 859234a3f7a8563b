import json
import logging
import shlex

import pytest
import yaml  # PyYAML: a dependency of transformers

from src.distill_task_specific_bert import bert_classification, distill
from src.runs import run_dir
from src.runs.model_card import command, model_card
from src.runs.run_dir import finish_run
from tests.tiny import write_toy_data

SCRIPT = "src/distill_task_specific_bert/distill.py"


def front_matter(card: str) -> dict:
    """The card's YAML header, parsed."""
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def bilstm_run(data_dir, **metrics):
    """args.json and metrics.json of a distilled BiLSTM as distill.py writes them (the entries the card reads)."""
    args = {"data_dir": str(data_dir), "teacher_model": "models/teacher", "output_dir": "models/bilstm",
            "overwrite_output_dir": False, "distill": 1, "augment": ["mask", "ngram"], "ngram_range": [1, 5],
            "max_seq_length": 128, "learning_rate": 0.001, "embedding_file": None}
    metrics = {"teacher_model": "models/teacher", "data_dir": str(data_dir), "distill": 1, "alpha": 0.0,
               "labels": ["0", "1"], "main_metric": "accuracy", "text_pair": False, "num_params": 4_450_502,
               "teacher_num_params": 22_713_986, "student_max_seq_length": 96, "num_train_examples": 20_000,
               "num_unlabeled": 0, "num_augmented": 21_815, "num_transfer_examples": 41_815,
               "augment": ["mask", "ngram"],
               "dev": {"accuracy": 0.8947, "macro_f1": 0.8936, "examples": 1339, "epoch": 5, "step": 4185},
               "test": {"accuracy": 0.83257, "macro_f1": 0.83214, "examples": 872},
               "teacher_scores": {"dev": {"accuracy": 0.91}, "test": {"accuracy": 0.87385}},
               "test_accuracy_vs_teacher": 0.95276, "at_chance": False, "majority_floor": 0.5092,
               "share_of_teacher_gain": 0.88,
               "speed": {"num_texts": 512, "threads": 1, "speedup_batch_64": 78.04, "speedup_batch_1": 25.31},
               "history": [{"epoch": 1, "step": 837, "train_loss": 1.34, "dev_accuracy": 0.88}], **metrics}
    return args, metrics


def test_card_of_a_bilstm_student_takes_every_number_from_its_files(tmp_path):
    args, metrics = bilstm_run(write_toy_data(tmp_path / "data"))
    card = model_card(args, metrics, SCRIPT)
    assert front_matter(card) == {"language": "en", "tags": ["knowledge-distillation", "text-classification", "bilstm"],
                                  "metrics": ["accuracy"]}
    test, dev, speed = metrics["test"], metrics["dev"], metrics["speed"]
    assert f"A BiLSTM student: {metrics['num_params']:,} parameters (the teacher: 22,713,986)." in card
    assert f"`{args['data_dir']}`: {metrics['num_train_examples']:,} training examples." in card
    assert f"{metrics['num_augmented']:,} augmented by mask, ngram" in card
    assert f"| accuracy (main) | {test['accuracy']:.4f} | {dev['accuracy']:.4f} |" in card
    assert f"| macro_f1 | {test['macro_f1']:.4f} | {dev['macro_f1']:.4f} |" in card
    assert (f"{metrics['test_accuracy_vs_teacher']:.1%} of the teacher's test accuracy "
            f"({metrics['teacher_scores']['test']['accuracy']:.4f})." in card)
    assert "88.0% of what the teacher learned beyond always answering the majority class (accuracy 0.5092)." in card
    assert (f"{speed['speedup_batch_64']:.1f}x the teacher's examples per second at batch 64, "
            f"{speed['speedup_batch_1']:.1f}x at batch 1" in card)
    assert f"It reads at most {metrics['student_max_seq_length']} tokens" in card  # the length it was cut to
    assert "It reads single texts, not sentence pairs." in card and "Its classes: 0, 1." in card
    assert f"python src/predict.py --model {args['output_dir']} --input texts.txt" in card
    assert "pipeline(" not in card  # a BiLSTM is not a transformers model


def test_card_of_a_pair_regressor_and_of_chinese_data(tmp_path):
    args, metrics = bilstm_run(write_toy_data(tmp_path / "zh", lang="zh"), labels=["score"], main_metric="pearson",
                               text_pair=True, test={"pearson": 0.61, "spearman": 0.6, "mse": 0.9, "examples": 8},
                               dev={"pearson": 0.7, "examples": 8, "epoch": 1, "step": 3},
                               test_pearson_vs_teacher=None, speed={})
    del metrics["test_accuracy_vs_teacher"]
    card = model_card(args, metrics, SCRIPT)
    assert front_matter(card)["language"] == "zh" and front_matter(card)["metrics"] == ["pearson"]
    assert "| pearson (main) | 0.6100 | 0.7000 |" in card and "| mse | 0.9000 | - |" in card
    assert "of the teacher's" not in card and "## Speed" not in card  # neither measured
    assert "sentence pairs (two texts an input)" in card and "A regressor: one score an input" in card
    assert "Trained on Chinese text (`zh`) only." in card


def test_card_of_an_intermediate_stage_without_data_on_disk():
    """TinyBERT stage 1: no test score, no metric in the header, its losses; a data file that is gone: no
    language."""
    args = {"teacher_model": "models/teacher", "student_model": "models/general", "output_dir": "models/tb1",
            "max_seq_length": 64, "pred_distill": False}
    metrics = {"stage": "intermediate layers", "teacher": "models/teacher", "data_dir": "gone",
               "train_file": "gone/train_aug.tsv", "labels": ["0", "1"], "num_train_examples": 19_200,
               "num_params": 7_331_330, "teacher_num_params": 22_713_986, "num_layers": 3, "hidden_size": 192,
               "layer_map": [[1, 2], [2, 4], [3, 6]],
               "history": [{"epoch": 1, "step": 600, "train_loss": 5.2319, "train_loss_attn": 4.3676}]}
    card = model_card(args, metrics, "src/tinybert/task_distill.py")
    assert front_matter(card) == {"tags": ["knowledge-distillation", "text-classification", "tinybert"]}
    assert "layer map 1:2, 2:4, 3:6; started from `models/general`" in card
    assert "train_loss 5.2319, train_loss_attn 4.3676" in card
    assert "--pred_distill --student_model models/tb1" in card


def test_command_rebuilds_the_flags_the_script_parsed(tmp_path):
    """The card's command, run through the script's own parser, gives back the flags of args.json."""
    argv = ["--data_dir", str(tmp_path / "my data"), "--teacher_model", "t", "--output_dir", "o", "--augment",
            "mask,ngram", "--ngram_range", "2,4", "--match_teacher_coverage", "--learning_rate", "3e-5"]
    args = vars(distill.parse_args(argv))
    args["ngram_range"] = list(args["ngram_range"])  # as distill.py saves it
    line = command(SCRIPT, args)
    assert line.startswith(f"python {SCRIPT} \\\n    --data_dir '{tmp_path / 'my data'}' \\\n")
    assert "--augment mask,ngram" in line and "--match_teacher_coverage" in line
    assert "--embedding_file" not in line and "--overwrite_output_dir" not in line  # unset: left out
    again = vars(distill.parse_args(shlex.split(line.replace("\\\n", " "))[2:]))
    assert {**again, "ngram_range": list(again["ngram_range"])} == args


def test_teacher_run_dir_card_parses_and_still_loads_in_a_pipeline(tiny_bert, toy_data, tmp_path):
    from transformers import pipeline

    out = tmp_path / "teacher"
    bert_classification.main(["--data_dir", toy_data, "--bert_model", tiny_bert, "--output_dir", str(out),
                              "--num_train_epochs", "1", "--max_seq_length", "32", "--no_cuda"])
    metrics = json.loads((out / "metrics.json").read_text())
    card = (out / "README.md").read_text()
    assert front_matter(card) == {"language": "en", "tags": ["knowledge-distillation", "text-classification"],
                                  "metrics": ["accuracy"]}
    assert f"| accuracy (main) | {metrics['test']['accuracy']:.4f} | {metrics['dev']['accuracy']:.4f} |" in card
    assert f"A BERT teacher: {metrics['num_params']:,} parameters." in card
    assert f"python src/distill_task_specific_bert/bert_classification.py \\\n    --data_dir {toy_data} \\\n" in card
    assert f'pipeline("text-classification", model="{out}")' in card
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pipeline("text-classification", model=str(out))("a good film")[0]["label"] in metrics["labels"]


def test_a_figure_that_fails_is_logged_and_the_run_still_published(tmp_path, monkeypatch, caplog):
    def broken(metrics, path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise ValueError("no figure today")

    monkeypatch.setattr(run_dir, "draw_curves", broken)
    tmp_dir, out = tmp_path / ".run.tmp", tmp_path / "run"
    tmp_dir.mkdir()
    args, metrics = bilstm_run(tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="kd"):
        finish_run(str(tmp_dir), str(out), {**args, "output_dir": str(out)}, metrics, script=distill.__file__)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "args.json", "metrics.json"]  # no half PNG
    assert "WARNING: could not write curves.png" in caplog.text and "no figure today" in caplog.text
    assert f"python {SCRIPT} " in (out / "README.md").read_text()  # the script named from the repository root


@pytest.mark.parametrize("kind", ["general", "mlm"])
def test_cards_of_models_that_are_not_classifiers(kind):
    common = {"num_params": 1000, "corpus": "c.txt", "history": [{"epoch": 1, "step": 5, "train_loss": 2.5}]}
    metrics = ({"teacher": "t", "num_lines": 10, "num_sequences": 4, "layer_map": [[1, 2]], "num_layers": 1,
                "hidden_size": 16, **common} if kind == "general" else
               {"model": "m", "num_train_lines": 9, "num_heldout_lines": 1, "heldout_before": {"accuracy": 0.1,
                "perplexity": 90.0}, "heldout_after": {"accuracy": 0.4, "perplexity": 12.34, "step": 5}, **common})
    card = model_card({"output_dir": "models/x", "max_seq_length": 64, "corpus": "c.txt"}, metrics, "s.py")
    assert "metrics" not in front_matter(card) and "pipeline(" not in card and "src/predict.py" not in card
    expected = ("`c.txt`: 10 lines packed into 4 sequences" if kind == "general" else
                "Masked-token accuracy 0.1000 -> 0.4000, perplexity 90.0 -> 12.3.")
    assert expected in card
