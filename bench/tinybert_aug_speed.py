"""Augmentation speed: candidates batched vs one masked copy at a time, in fp32 and in bfloat16.

    OMP_NUM_THREADS=2 python bench/tinybert_aug_speed.py --n 50
    OMP_NUM_THREADS=2 python bench/tinybert_aug_speed.py --mlm_model models/minilm_zh3 \
        --data data/hotel/dev.tsv --n 20 --skip_fallback
Each path is timed warm (best of 2 runs after an untimed one). The reference loop computes every word's
candidates, one masked copy per forward pass, in fp32, then draws the variants. The batched path is timed
for every word's candidates (the same work), and for the whole augmentation at N = 1 and N = 20 (p = 0.4),
which computes only the words that some attempt replaces; the same again with --bf16. Two paths: the
masked LM and the missing-head fallback (input-embedding neighbours, what the bundled MiniLM uses in
practice; no bf16 there, it runs no encoder). By default the masked LM is the bundled MiniLM saved with its
randomly initialised MLM head: the candidates are noise and only the cost is real (the forward passes of a
trained BERT of that size). With --mlm_model (a trained head), the bf16 candidates' agreement with fp32
means something: the share of words with the same list, the same set, and the mean overlap of the sets.

    OMP_NUM_THREADS=2 python bench/tinybert_aug_speed.py --roofline
prints the ceiling instead: the CPU's fp32 matrix-product rate, and the encoder's rate at one masked copy per
pass and at 128 copies per pass (GFLOP/s from the linear layers and attention). Their ratio bounds what
batching can gain at the same arithmetic.
"""

import argparse
import os
import tempfile
import time

import torch
from transformers import AutoModelForMaskedLM

from src.common.files import save_json
from src.data.examples import Example
from src.data.reading import read_examples
from src.modeling.bert import default_bert_model, load_tokenizer
from src.tinybert.data_augmentation import Augmenter, augment_batches


def timed(fn, *args, repeats: int = 2, **kwargs):
    """fn's output and its best time over `repeats` runs after one untimed run: a CPU library builds its
    kernels for each new input shape on first sight, which a long augmentation run pays once, not per batch."""
    out, seconds = fn(*args, **kwargs), []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
    return out, min(seconds)


def every_candidate(aug: Augmenter, texts: list[str], sentence_batch: int) -> list[dict]:
    return [c for i in range(0, len(texts), sentence_batch) for _, c in aug.candidates(texts[i:i + sentence_batch])]


def agreement(ref: list[dict], other: list[dict]) -> dict:
    """How far `other`'s candidate lists agree with `ref`'s, word by word."""
    pairs = [(a[i], b.get(i, [])) for a, b in zip(ref, other) for i in a]
    n = max(len(pairs), 1)
    return {"words": len(pairs), "same_list": sum(a == b for a, b in pairs) / n,
            "same_set": sum(set(a) == set(b) for a, b in pairs) / n,
            "overlap": sum(len(set(a) & set(b)) / len(a) for a, b in pairs) / n}


def roofline(model_dir: str) -> dict:
    """GFLOP/s of a large fp32 matrix product, and of the encoder at batch 1 and 128 (24 pieces per copy)."""
    from transformers import AutoModel

    x = torch.randn(2048, 2048)
    _, seconds = timed(torch.mm, x, x, repeats=5)
    rates = {"matmul 2048^3": 2 * 2048 ** 3 / seconds / 1e9}
    model = AutoModel.from_pretrained(model_dir).eval()
    c = model.config
    for batch, width in ((1, 24), (128, 24)):
        ids = torch.randint(1000, c.vocab_size, (batch, width))
        flops = 2 * batch * width * c.num_hidden_layers * (
            4 * c.hidden_size ** 2 + 2 * c.hidden_size * c.intermediate_size + 2 * width * c.hidden_size)
        with torch.no_grad():
            _, seconds = timed(model, input_ids=ids, repeats=3)
        rates[f"encoder, batch {batch} x {width} pieces"] = flops / seconds / 1e9
    return rates


def measure(model_dir: str, texts: list[str], precisions: tuple[bool, ...]) -> dict:
    """Sentences/s of the reference loop and of the batched paths; speed-ups against the reference."""
    rates, candidates = {}, {}
    examples = [Example(t, "0") for t in texts]
    for bf16 in precisions:
        tag = "_bf16" if bf16 else ""
        runs = (("one_at_a_time", 1, 1),) if not bf16 else ()
        for name, mlm_batch, sentence_batch in runs + (("batched", 128, len(texts)),):
            aug = Augmenter(model_dir, M=15, mlm_batch_size=mlm_batch, do_lower_case=True, bf16=bf16)
            candidates[name + tag], seconds = timed(every_candidate, aug, texts, sentence_batch)
            rates[name + tag] = len(texts) / seconds
        for n_variants in (1, 20):
            _, seconds = timed(augment_batches, aug, examples, [0], N=n_variants, p=0.4, batch_size=len(texts),
                               seed=0, show_progress=False)
            rates[f"augment_N{n_variants}{tag}"] = len(texts) / seconds
    result = {"sentences_per_s": rates,
              "speedup": {k: v / rates["one_at_a_time"] for k, v in rates.items() if k != "one_at_a_time"},
              "same_candidates": candidates["batched"] == candidates["one_at_a_time"],
              "words_with_candidates": sum(len(c) for c in candidates["batched"])}
    if "batched_bf16" in candidates:
        result["bf16_agreement"] = agreement(candidates["batched"], candidates["batched_bf16"])
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="sentences of --data")
    p.add_argument("--data", default="data/sst2/train.tsv", help="labelled .tsv whose first --n texts are used")
    p.add_argument("--mlm_model", default=None,
                   help="a masked LM with a trained head (default: the bundled MiniLM with a random head)")
    p.add_argument("--skip_fallback", action="store_true", help="time the masked LM only")
    p.add_argument("--roofline", action="store_true", help="print the fp32 ceiling of batching instead (see above)")
    p.add_argument("--output", default="logs/tinybert_aug_speed.json", help="where the numbers are written")
    args = p.parse_args()
    if args.roofline:
        print("| work | GFLOP/s |\n|---|---|")
        for name, rate in roofline(args.mlm_model or default_bert_model()).items():
            print(f"| {name} | {rate:.0f} |")
        return
    texts = [ex.text for ex in read_examples(args.data)[:args.n]]
    result = {"sentences": len(texts), "data": args.data, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        mlm_dir = args.mlm_model
        if mlm_dir is None:
            mlm_dir = os.path.join(tmp, "minilm_mlm")
            AutoModelForMaskedLM.from_pretrained(default_bert_model()).save_pretrained(mlm_dir)
            load_tokenizer(default_bert_model()).save_pretrained(mlm_dir)
        result["mlm_model"] = args.mlm_model or "bundled MiniLM, random MLM head"
        result["mlm"] = measure(mlm_dir, texts, (False, True))
        if not args.skip_fallback:
            result["embedding_fallback"] = measure(default_bert_model(), texts, (False,))
    print("path        sentences/s (speed-up)")
    for path in ("mlm", "embedding_fallback"):
        if path in result:
            r = result[path]
            print(f"{path:<20} one_at_a_time {r['sentences_per_s']['one_at_a_time']:.1f}  " + "  ".join(
                f"{k} {v:.1f} ({r['speedup'][k]:.1f}x)" for k, v in r["sentences_per_s"].items()
                if k != "one_at_a_time"))
            print(f"{'':<20} same candidates batched vs one at a time: {r['same_candidates']}"
                  + (f"; bf16 vs fp32: {r['bf16_agreement']}" if "bf16_agreement" in r else ""))
    save_json(result, args.output)


if __name__ == "__main__":
    main()
