"""Checks for the ``deep_taylor`` assignment (thesis Sec. 3.3 and Table 3.1; SUTD week 10 notes on LRP).

- :mod:`.derivation`: the root point's line search, the generic relevance, the z+ and z^beta directions,
  roots and rules (SymPy, catalogues of mistakes), and the multiple choice on Table 3.1;
- :mod:`.rules`: ``w2``, ``zplus`` and ``zbeta`` implemented in numpy, checked by the shared
  :mod:`autograder.lrp_rules` checker (shape, no NaN, positivity, conservation, agreement with
  :mod:`reference.lrp`, the batch dimension, arguments untouched; mistakes named on fixed probes), their
  edge cases, and the multiple choice on the rules;
- :mod:`.network`: deep Taylor through a whole network.

The notebook imports this package as ``check``; every check is re-exported here.
"""
from ...question import hints_of
from .derivation import (
                         relevance_generic,
                         step_length,
                         table_typo,
                         zbeta_direction,
                         zbeta_relevance,
                         zplus_direction,
                         zplus_relevance,
                         zplus_root,
)
from .network import network
from .rules import (
                         rule_statements,
                         w2,
                         w2_edge_cases,
                         zbeta,
                         zbeta_edge_cases,
                         zplus,
                         zplus_edge_cases,
)

__all__ = [  # noqa: RUF022 - the notebook's order, which hint() numbers by
    "step_length", "relevance_generic", "zplus_direction", "zplus_root", "zplus_relevance", "zbeta_direction",
    "zbeta_relevance", "table_typo", "w2", "zplus", "zbeta", "w2_edge_cases", "zplus_edge_cases", "zbeta_edge_cases",
    "rule_statements", "network", "hint"]

hint = hints_of(__name__, order=__all__)
