"""Augmentation speed on SST-2 sentences: candidates batched vs one masked copy at a time.

    OMP_NUM_THREADS=1 python bench/tinybert_aug_speed.py --n 50
The reference loop computes every word's candidates, one masked copy per forward pass, then draws the
variants. The batched path is timed twice: every word's candidates (the same work), and the whole
augmentation at N = 1 and N = 20 (p = 0.4), which computes only the words that some attempt replaces.
Two paths: the masked LM (the bundled MiniLM saved with its randomly initialised MLM head, so the
candidates are noise and only the cost is real: the same forward passes as a trained BERT of that size)
and the missing-head fallback (input-embedding neighbours, what the bundled MiniLM uses in practice).
"""

import argparse
import os
import tempfile
import time

import torch
from transformers import AutoModelForMaskedLM

from src.data import Example, read_examples
from src.tinybert.data_augmentation import Augmenter, augment_batches
from src.modeling import default_bert_model, load_tokenizer
from src.runs import save_json


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="sentences of data/sst2/train.tsv")
    p.add_argument("--output", default="logs/tinybert_aug_speed.json", help="where the numbers are written")
    args = p.parse_args()
    texts = [ex.text for ex in read_examples("data/sst2/train.tsv")[:args.n]]
    result = {"sentences": len(texts), "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        mlm_dir = os.path.join(tmp, "minilm_mlm")
        AutoModelForMaskedLM.from_pretrained(default_bert_model()).save_pretrained(mlm_dir)
        load_tokenizer(default_bert_model()).save_pretrained(mlm_dir)
        for model_dir, path in ((mlm_dir, "mlm"), (default_bert_model(), "embedding_fallback")):
            candidates, rates = {}, {}
            for name, mlm_batch, sentence_batch in (("one_at_a_time", 1, 1), ("batched", 128, len(texts))):
                aug = Augmenter(model_dir, M=15, mlm_batch_size=mlm_batch, do_lower_case=True)
                start = time.perf_counter()
                candidates[name] = [c for i in range(0, len(texts), sentence_batch)
                                    for _, c in aug.candidates(texts[i:i + sentence_batch])]
                rates[name] = len(texts) / (time.perf_counter() - start)
            examples = [Example(t, "0") for t in texts]
            for n_variants in (1, 20):
                start = time.perf_counter()
                augment_batches(aug, examples, [0], N=n_variants, p=0.4, batch_size=len(texts), seed=0,
                                show_progress=False)
                rates[f"batched_augment_N{n_variants}"] = len(texts) / (time.perf_counter() - start)
            result[path] = {"sentences_per_s": rates, "speedup": rates["batched"] / rates["one_at_a_time"],
                            **{f"speedup_augment_N{n}": rates[f"batched_augment_N{n}"] / rates["one_at_a_time"]
                               for n in (1, 20)},
                            "same_candidates": candidates["batched"] == candidates["one_at_a_time"],
                            "words_with_candidates": sum(len(c) for c in candidates["batched"])}
            print(path, result[path])
    save_json(result, args.output)


if __name__ == "__main__":
    main()
