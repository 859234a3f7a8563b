"""The targets a student learns: one or several teachers' outputs (`targets`), cached on disk (`cache`)."""

# Linear teachers saved before 2026-12-06 pickled their Chinese word splitter under this name.
from src.modeling.linear import jieba_words  # noqa: F401
