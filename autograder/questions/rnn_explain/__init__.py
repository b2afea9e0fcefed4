"""Checks for the ``rnn_explain`` assignment (thesis, chapter 4: sequence classifiers and LRP through time).

The student builds the Deep cell (Sec. 4.3.2, Fig. 4.6) in torch, implements LRP / Deep Taylor back through
one time step and then through the whole sequence, and measures where the shipped Shallow-7 and Deep-7
models put their relevance (Fig. 4.7-4.9). Everything is checked against :mod:`reference.thesis`:

- :mod:`.cell`: the chunks x_t, the parameter count (Table 4.3, part by part) and the forward pass against
  the shipped Deep-7 checkpoint;
- :mod:`.lrp`: the z+ rule in torch (the shared :mod:`autograder.lrp_rules` checker), one time step, the
  recurrent layer and the explanation through time;
- :mod:`.measures`: the relevance per time step, the earth mover's distance to the pixel distribution, and
  the interpretation;
- :mod:`.swap`: z+ instead of z^beta at Shallow's concatenation, the per-step profile of trained and random
  models, and what the rule swap and the model-randomisation check say;
- :mod:`.models`: the shipped models, the test digits and random cells the checks run on.

The notebook imports this package as ``check``; every check is re-exported here.
"""
from ...question import hints_of
from .cell import deep_cell_forward, deep_cell_parameters, xt_shapes
from .lrp import explain_sequence, lrp_recurrent, lrp_step, zplus
from .measures import emd, last_steps_model, statements, step_shares
from .swap import rule_swap, sanity, shallow_step_zplus, step_profile

__all__ = [
    "xt_shapes", "deep_cell_parameters", "deep_cell_forward", "zplus", "lrp_step", "lrp_recurrent",
    "explain_sequence", "step_shares", "emd", "last_steps_model", "statements", "shallow_step_zplus",
    "step_profile", "rule_swap", "sanity", "hint"]

hint = hints_of(__name__, order=__all__)
