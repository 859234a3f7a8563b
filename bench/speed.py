"""Inference speed of a run's teacher and students on the same inputs, in one process.

    python bench/speed.py --run_dir models/sst2 [--num_texts 512 --threads 2 --repeats 5 --device cpu]

Every model directory under --run_dir with a test score is timed on the first --num_texts dev texts of
the teacher's data directory: batch 64 over all of them and batch 1 over a quarter, tokenisation included,
one warm-up pass, the median of --repeats passes. BiLSTM students use their folded CPU path (the module's
forward on a GPU); BERT-family models their `predict_logits` path. Prints a Markdown table.
"""

import argparse
import os

import torch

from src.common.files import load_json
from src.data.reading import load_split
from src.modeling.bert import classifier_predictor, count_parameters, load_classifier, load_tokenizer
from src.modeling.bilstm import fast_predictor, load_student, pad_batch
from src.modeling.linear import is_linear
from src.serve.speed import inference_speed
from src.teachers.targets import load_teacher, teacher_predictor


def predictor(model_dir, max_seq_length, device):
    """(predict_fn, params) for a BiLSTM student (model.pt), a linear teacher or a BERT-family classifier
    directory."""
    if is_linear(model_dir):
        teacher = load_teacher(model_dir)
        return teacher_predictor(teacher), teacher.num_params
    if os.path.isfile(os.path.join(model_dir, "model.pt")):
        model, tokenizer, _ = load_student(model_dir, device)
        if device == "cpu":
            return fast_predictor(model, tokenizer), count_parameters(model)
        return (lambda texts: model(*(t.to(device) for t in pad_batch(tokenizer.encode(texts))))), \
            count_parameters(model)
    model = load_classifier(model_dir).to(device)
    return classifier_predictor(model, load_tokenizer(model_dir), max_seq_length), count_parameters(model)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run_dir", required=True, help="directory of model sub-directories (teacher/ among them)")
    p.add_argument("--num_texts", type=int, default=512, help="dev texts to time on")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=5, help="timed passes (median reported)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    teacher_dir = os.path.join(args.run_dir, "teacher")
    teacher_args = load_json(os.path.join(teacher_dir, "args.json"))
    texts = load_split(teacher_args["data_dir"], "dev")[0][:args.num_texts]
    rows = []
    for name in ["teacher"] + sorted(os.listdir(args.run_dir)):
        model_dir = os.path.join(args.run_dir, name)
        metrics_path = os.path.join(model_dir, "metrics.json")
        if (name == "teacher" and rows) or not os.path.isfile(metrics_path) or "test" not in load_json(metrics_path):
            continue
        with torch.inference_mode():
            predict, params = predictor(model_dir, teacher_args["max_seq_length"], args.device)
            speeds = [inference_speed(predict, texts[:n], bs, repeats=args.repeats)
                      for bs, n in ((64, len(texts)), (1, max(len(texts) // 4, 1)))]
        rows.append((name, params, *speeds))
        print(f"timed {name}", flush=True)

    teacher_64, teacher_1 = rows[0][2]["examples_per_s"], rows[0][3]["examples_per_s"]
    print(f"\n{len(texts)} dev texts of {teacher_args['data_dir']}, {args.device}, {args.threads} thread(s), "
          f"median of {args.repeats}\n")
    print("| model | params | ex/s b64 | ms/batch b64 | ex/s b1 | ms b1 | speed-up b64 | speed-up b1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, params, b64, b1 in rows:
        print(f"| {name} | {params / 1e6:.2f}M | {b64['examples_per_s']:.0f} | {b64['ms_per_batch']:.1f} | "
              f"{b1['examples_per_s']:.0f} | {b1['ms_per_batch']:.1f} | {b64['examples_per_s'] / teacher_64:.1f}x | "
              f"{b1['examples_per_s'] / teacher_1:.1f}x |")


if __name__ == "__main__":
    main()
