"""Prints, as JSON, the transport option names Kombu's transports read (Kombu 5.2).

Redis and the virtual base list them (`from_transport_options`); SQS, Azure and the filesystem
transport read them with `transport_options.get('name')`, found in their source; the sqlalchemy
transport reads its table names with `opts.get('name')` (and hands every other option to
SQLAlchemy's `create_engine`, checked by sqla_engine_options.py).
"""
import inspect
import json
import re

from kombu.transport import filesystem, redis, SQS, azurestoragequeues, sqlalchemy, etcd, zookeeper
from kombu.transport.virtual import base

GET = re.compile(r"transport_options\.get\(\s*'([^']+)'")
GET_CLIENT = re.compile(r"client\.transport_options\.get\(\s*'([^']+)'")
OPTS_GET = re.compile(r"opts\.get\(\s*'([^']+)'")


def read_by_get(module):
    return sorted(set(GET.findall(inspect.getsource(module))))


print(json.dumps({
    "virtual": sorted(set(base.Channel.from_transport_options) | {"polling_interval"}),
    "redis": sorted(
        set(redis.Channel.from_transport_options)
        | set(redis.SentinelChannel.from_transport_options)
        | set(read_by_get(redis))
        | {"polling_interval"}
    ),
    "sqs": sorted(set(read_by_get(SQS)) | {"polling_interval"}),
    "azurestoragequeues": sorted(set(read_by_get(azurestoragequeues)) | {"polling_interval"}),
    "filesystem": sorted(set(read_by_get(filesystem)) | {"polling_interval"}),
    "sqla": sorted(
        set(OPTS_GET.findall(inspect.getsource(sqlalchemy))) | {"polling_interval"}
    ),
    # Neither reads options of its own: the virtual base's are what a Celery dict may carry.
    "etcd": sorted(
        set(read_by_get(etcd)) | set(base.Channel.from_transport_options) | {"polling_interval"}
    ),
    "zookeeper": sorted(
        set(read_by_get(zookeeper))
        | set(base.Channel.from_transport_options)
        | {"polling_interval"}
    ),
}))
