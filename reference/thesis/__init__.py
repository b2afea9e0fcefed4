"""Chapter 4 of the thesis "Designing Recurrent Neural Networks for Explainability", runnable.

``data`` (sequences of image chunks), ``cells`` (Shallow, Deep, DeepV2, ConvDeep), ``explain`` (LRP /
Deep Taylor through time), ``train`` (training with checkpoints), ``report`` (heatmaps, relevance per
time step, pixel flipping). Beyond the thesis: ``gated`` (LSTM and GRU cells sized like Deep) and
``explain_gated`` (their LRP through time, Arras et al. 2017).
"""
from .cells import TABLE_4_3, build_model, count_parameters  # noqa: F401
