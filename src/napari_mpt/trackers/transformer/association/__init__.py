"""The association transformer (any number of detections per frame): model, window
graphs, linking, inference, FLOPs, training."""
