"""Answers Kombu's glob and pcre matchers for (name, pattern) pairs, for wakame's tests.

Usage: pidbox_fnmatch.py JSON_FILE   (a list of [name, pattern, matcher])
Prints a JSON list of booleans (null where the pattern is invalid).
"""
import json
import sys

from kombu.matcher import match

with open(sys.argv[1], encoding="utf-8") as f:
    cases = json.load(f)
out = []
for name, pattern, matcher in cases:
    try:
        out.append(bool(match(name, pattern, matcher)))
    except Exception:
        out.append(None)
print(json.dumps(out))
