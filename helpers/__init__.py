"""The course library of *LLMs from Dummies*: one module per concept.

Notebooks import from here; a later chapter imports an earlier chapter's code
instead of copying it.
"""
