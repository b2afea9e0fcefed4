"""Checks judged outside the student's process: the grader-side judge and what it needs.

In grading mode (``xai-course grade``, an assignment in ``JUDGED``) the sandboxed kernel holds no
oracle: ``autograder/questions`` is replaced there by a stub (:mod:`.stubs`) whose checks
(:mod:`.kernel`) send the student's answers to a judge process at the grader (:mod:`.judge`), which
runs the real check and calls the student's functions back through ``autograder.question.call`` (and the
check package's :func:`autograder.question.kernel_side` functions, which build a student's class where it lives).
Values travel as frames of :mod:`.codec` (arrays as ``.npy`` without pickle, SymPy as ``srepr``
read by :mod:`.srepr` without ``eval``). A test cell keeps its points only if the judge's record
confirms its checks (:mod:`.confirm`). Self-check on a learner's laptop does not use any of this.
"""

# The assignments whose checks run at the grader (docs/threat-model.md says what made each one possible).
JUDGED = frozenset({"attribution", "bptt", "deep_taylor", "lrp_max", "prototypes", "rnn_explain", "taylor", "vanishing"})
