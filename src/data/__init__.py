"""Texts and labels, no weights: reading data files, the task table, corpora, batching, Tang et al.'s
augmentation rules, masking, word vectors and the memory-mapped stores."""
