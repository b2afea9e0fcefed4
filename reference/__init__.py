"""The science of the course: explanation methods for neural networks, in numpy, torch and SymPy.

Nothing in this package knows about grading or notebooks. Notation follows the thesis
"Designing Recurrent Neural Networks for Explainability": layer input ``a`` of shape ``(..., J)``,
weights ``w`` of shape ``(J, K)``, ``z = a @ w + b`` and relevance ``R`` of shape ``(..., K)``
propagated down to shape ``(..., J)``.
"""
