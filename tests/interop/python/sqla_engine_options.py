"""Prints, as JSON, which of the names in argv SQLAlchemy's `create_engine` refuses.

Kombu 5.2's sqlalchemy transport passes every transport option but the table names to
`create_engine`, so each engine option wakame declares for `sqla` must be one SQLAlchemy takes.
The engine is built for PostgreSQL with psycopg2 (QueuePool); nothing connects.
"""
import json
import sys

from sqlalchemy import create_engine

refused = []
for name in sys.argv[1:]:
    try:
        create_engine("postgresql+psycopg2://u@localhost/x", **{name: None})
    except TypeError as error:
        if "Invalid argument" in str(error):
            refused.append(name)
print(json.dumps(refused))
