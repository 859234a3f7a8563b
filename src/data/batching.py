"""Training batches of texts of similar length: less padding, so fewer wasted steps for an LSTM and fewer
wasted positions for a transformer. Shared by the BiLSTM student and the BERT stages (`--length_buckets`),
and by TinyBERT's augmentation for its masked-LM passes (`length_chunks`)."""

import math

import torch


class LengthBatchSampler(torch.utils.data.Sampler):
    """Batches of indices of similar length, for a DataLoader's `batch_sampler`.

    Every pass shuffles the indices, sorts them by length (stably, so equal lengths stay shuffled), cuts the
    result into batches of `batch_size` (the last one shorter) and shuffles the batches. Most batches then
    hold texts of one length: an LSTM has no packing gaps, a transformer no padded positions. All randomness
    comes from `generator`: the same generator state gives the same batches.
    """

    def __init__(self, lengths, batch_size, generator):
        self.lengths = torch.as_tensor(lengths)
        self.size = batch_size  # not called `batch_size`: Accelerate would then drop a short batch met mid-pass
        self.generator = generator

    def __len__(self):
        return math.ceil(len(self.lengths) / self.size)

    def __iter__(self):
        perm = torch.randperm(len(self.lengths), generator=self.generator)
        order = perm[self.lengths[perm].sort(stable=True).indices]
        batches = order.split(self.size)
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


def training_batches(lengths, batch_size: int, generator: torch.Generator, length_buckets: bool) -> dict:
    """DataLoader keyword arguments for shuffled training batches: of similar length (`LengthBatchSampler`)
    with `length_buckets`, plain otherwise. Either way the randomness comes from `generator`."""
    if length_buckets:
        return {"batch_sampler": LengthBatchSampler(lengths, batch_size, generator)}
    return {"batch_size": batch_size, "shuffle": True}


def length_chunks(lengths: list[int], max_size: int, max_padding: float = 0.25) -> list[list[int]]:
    """Indices sorted by length and cut into chunks of at most `max_size`, each closed early where padding
    it to its longest member would add more than `max_padding` of its real positions (order-free inference:
    a few long texts no longer widen a whole batch)."""
    chunks, real = [], 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        grown = len(chunks[-1]) + 1 if chunks else 0
        if chunks and grown <= max_size and lengths[i] * grown <= (1 + max_padding) * (real + lengths[i]):
            chunks[-1].append(i)
            real += lengths[i]
        else:
            chunks.append([i])
            real = lengths[i]
    return chunks
