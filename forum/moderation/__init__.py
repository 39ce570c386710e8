"""Keyword moderation: every piece of user text (forum, help requests, live Q&A) passes here.

Pure core (no Flask, no database): ``normalise`` (folding with an offset map), ``matcher``
(the Aho-Corasick automaton), ``engine`` (verdicts over a rule set). Around it: ``models``
(the rules table), ``rules`` (the service: rule changes, import/export, the shared cached
engine, hit counts), ``policy`` and ``cli``.
"""
