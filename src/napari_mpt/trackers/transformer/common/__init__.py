"""What both transformers share: devices, torch threads, the checkpoint file format,
FLOP tracing, layers and the training loop."""
