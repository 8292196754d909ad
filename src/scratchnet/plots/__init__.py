"""Matplotlib figures (object-oriented API, no pyplot state), one module per kind of picture.

Plots read results (arrays, histories, recorded statistics); they never train.
"""
