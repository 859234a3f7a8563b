"""The three model kinds, each loaded, encoded for and predicted with: BERT (`bert`), the BiLSTM student
(`bilstm`) and the linear TF-IDF model (`linear`)."""
