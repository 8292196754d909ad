"""Lessons: each composes the engine, data, insight, plots and report into one command's work.

Every lesson is a plain function callable from Python or a notebook; the command line
only parses arguments and calls it.
"""
