"""Chapter 4 of the thesis "Designing Recurrent Neural Networks for Explainability", runnable.

``data`` (sequences of image chunks), ``cells`` (Shallow, Deep, DeepV2, ConvDeep), ``explain`` (LRP /
Deep Taylor through time, the pixel rule as a choice), ``train`` (training with checkpoints),
``faithfulness`` (perturbation measures against random orders, the untrained control, non-LRP
baselines), ``report`` (heatmaps, relevance per time step, the study's statistics and figures).
Beyond the thesis: ``gated`` (LSTM and GRU cells sized like Deep) and ``explain_gated`` (their LRP
through time, Arras et al. 2017).
"""
from .cells import TABLE_4_3, build_model, count_parameters  # noqa: F401
