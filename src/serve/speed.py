"""Inference speed: examples/s and ms per batch of a serving function, student against teacher."""

import statistics
import time
from collections.abc import Callable

import torch


def inference_speed(predict_fn: Callable, texts: list[str], batch_size: int, repeats: int = 5,
                    warmup: int = 1) -> dict:
    """Throughput and latency of `predict_fn(list_of_texts)` over `texts` in batches of `batch_size`.

    Tokenization is included (it is part of serving). Returns the median over `repeats` full passes.
    """
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    times = []
    for r in range(warmup + repeats):
        start = time.perf_counter()
        for batch in batches:
            predict_fn(batch)
        if r >= warmup:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"batch_size": batch_size, "examples_per_s": len(texts) / seconds,
            "ms_per_batch": 1000 * seconds / len(batches), "threads": torch.get_num_threads()}


def compare_speed(predict_S: Callable, predict_T: Callable, texts: list[str], repeats: int = 3) -> dict:
    """Student and teacher inference speed on the same texts in one process (same threads, same inputs).

    `predict_*` map a list of texts to logits. Batch 64 runs over all `texts`, batch 1 over a quarter of
    them. Returns {"student": {"batch_64": ..., "batch_1": ...}, "teacher": {...}, "speedup_batch_64",
    "speedup_batch_1", "num_texts", "threads"}; a speed-up is student examples/s over teacher examples/s.
    """
    result = {"num_texts": len(texts), "threads": torch.get_num_threads(),
              "student": speed_of(predict_S, texts, repeats), "teacher": speed_of(predict_T, texts, repeats)}
    return {**result, **speedups(result["student"], result["teacher"])}


def speed_of(predict: Callable, texts: list[str], repeats: int = 3) -> dict:
    """{"batch_64": ..., "batch_1": ...}: `inference_speed` at batch 64 over all `texts`, at batch 1 over a quarter."""
    return {"batch_64": inference_speed(predict, texts, 64, repeats=repeats),
            "batch_1": inference_speed(predict, texts[:max(len(texts) // 4, 1)], 1, repeats=repeats)}


def speedups(student: dict, teacher: dict) -> dict:
    """{"speedup_batch_64", "speedup_batch_1"}: the student's examples/s over the teacher's (`speed_of` results)."""
    return {f"speedup_{b}": student[b]["examples_per_s"] / teacher[b]["examples_per_s"]
            for b in ("batch_64", "batch_1")}
