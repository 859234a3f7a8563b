"""Using what was trained: predictors for every model kind and for ONNX exports, labelling files, the ONNX
export and speed timing."""
