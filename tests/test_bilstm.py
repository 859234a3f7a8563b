import torch

from src.modeling.bilstm import (
    MASK,
    UNK_ID,
    BiLSTMClassifier,
    BiLSTMConfig,
    StudentTokenizer,
    batch_inputs,
    bilstm_logits,
    build_vocab,
    fold,
    folded_logits,
    load_student,
    pad_batch,
    pair_features,
    save_student,
    token_counts,
    tokenize,
)


def small_model(seed=0):
    torch.manual_seed(seed)
    return BiLSTMClassifier(BiLSTMConfig(vocab_size=20, num_labels=3, embedding_dim=8, hidden_size=6, fc_dim=5)).eval()


def test_padding_changes_nothing():
    model = small_model()
    ids, lengths = pad_batch([[3, 4, 5], [6, 7], [8, 9, 10, 11, 12]])
    padded = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)  # 4 extra padding columns
    with torch.no_grad():
        a, b = model(ids, lengths), model(padded, lengths)
        alone = model(torch.tensor([[6, 7]]), torch.tensor([2]))  # row 1 without the batch's padding
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[1:2], alone)
    # a real token where padding was would change the result: the test can fail
    with torch.no_grad():
        assert not torch.allclose(model(padded, lengths + 1)[0], a[0])


def test_folded_inference_matches_forward():
    model = small_model(1)
    ids, lengths = pad_batch([[3, 4, 5], [6], [8, 9, 10, 11, 12], [2, 1, 7, 7]])
    with torch.no_grad():
        expected = model(ids, lengths)
    torch.testing.assert_close(folded_logits(fold(model), ids, lengths), expected, atol=1e-5, rtol=1e-5)


def test_batched_logits_keep_the_input_order():
    model = small_model(3)
    id_lists = [[3, 4, 5, 6], [7], [8, 9], [10, 11, 12], [2]]  # lengths unsorted: batches regroup them
    with torch.no_grad():
        alone = torch.cat([model(*pad_batch([x])) for x in id_lists])
    model.train()  # bilstm_logits switches dropout off itself
    torch.testing.assert_close(bilstm_logits(model, id_lists, batch_size=2), alone)
    assert not model.training


def test_tokenize_and_vocab():
    assert tokenize("whitespace", ["The Movie  [MASK] good"]) == [["the", "movie", MASK, "good"]]
    assert tokenize("char", ["好[MASK]电影"]) == [["好", MASK, "电", "影"]]
    assert tokenize("jieba", ["这部电影[MASK]"])[0][-1] == MASK
    counts, lengths = token_counts("whitespace", ["b a b", "c [MASK]"], chunk=1)
    assert lengths.tolist() == [3, 2]
    vocab = build_vocab(counts, min_freq=1)
    assert vocab == ["[PAD]", "[UNK]", "[MASK]", "b", "a", "c"]
    assert build_vocab(token_counts("whitespace", ["b a b"])[0], min_freq=2) == ["[PAD]", "[UNK]", "[MASK]", "b"]
    tok = StudentTokenizer("whitespace", vocab, max_seq_length=2)
    assert tok.encode(["B a c", "zzz", "[MASK] b"]) == [[3, 4], [UNK_ID], [2, 3]]


def test_save_and_load_round_trip(tmp_path):
    model = small_model(2)
    vocab = ["[PAD]", "[UNK]", "[MASK]"] + [f"w{i}" for i in range(17)]
    tok = StudentTokenizer("whitespace", vocab, max_seq_length=16)
    save_student(tmp_path / "s", model, tok, ["neg", "neu", "pos"])
    loaded, tok2, labels = load_student(tmp_path / "s")
    assert labels == ["neg", "neu", "pos"] and tok2.vocab == vocab and tok2.kind == "whitespace"
    ids, lengths = pad_batch(tok2.encode(["w1 w2 w3", "w4"]))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, lengths), model(ids, lengths))


def test_pair_features_on_hand_made_vectors():
    h1, h2 = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 0.5]])
    assert pair_features(h1, h2).tolist() == [[1.0, -2.0, 3.0, 0.5, 3.0, -1.0, 2.0, 2.5]]  # h1, h2, h1*h2, |h1-h2|


def test_siamese_model_shares_one_encoder_and_ignores_padding():
    """Both texts go through the same BiLSTM: the pair's logits are the dense layers on pair_features of the two
    encodings, whatever the padding and the other rows' lengths; folded inference gives the same logits."""
    torch.manual_seed(4)
    model = BiLSTMClassifier(BiLSTMConfig(vocab_size=20, num_labels=2, embedding_dim=8, hidden_size=6, fc_dim=5,
                                          pair=True)).eval()
    assert model.fc.in_features == 8 * 6  # [h1, h2, h1*h2, |h1-h2|], each 2H wide
    pairs = [([3, 4, 5], [6]), ([6, 7], [8, 9, 10, 11]), ([2], [3, 4])]
    inputs = batch_inputs(pairs)
    with torch.no_grad():
        logits = model(**inputs)
        h1 = model.encode(*pad_batch([pairs[1][0]]))
        h2 = model.encode(*pad_batch([pairs[1][1]]))
        by_hand = model.classifier(torch.relu(model.fc(pair_features(h1, h2))))
    assert logits.shape == (3, 2)
    torch.testing.assert_close(logits[1:2], by_hand)
    torch.testing.assert_close(folded_logits(fold(model), **inputs), logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bilstm_logits(model, pairs, batch_size=2), logits)
    swapped = batch_inputs([(b, a) for a, b in pairs])
    with torch.no_grad():
        assert not torch.allclose(model(**swapped), logits)  # the order of the two texts matters (h1 - h2 aside)
    tok = StudentTokenizer("whitespace", ["[PAD]", "[UNK]", "[MASK]", "a", "b"], max_seq_length=2)
    assert tok.encode([("a b a", "b"), ("zzz", "a")]) == [([3, 4], [4]), ([UNK_ID], [3])]
