"""The paper's encoder-decoder (Mishra & Roudot, III-C): configuration, encodings,
model, step-wise decoding, inference, FLOPs, training."""
