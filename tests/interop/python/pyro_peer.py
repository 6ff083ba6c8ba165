"""Python Kombu peer of the Pyro interop test: store_peer.py with Kombu's Pyro transport told the
name server's port (Kombu 5.2 always asks port 9090, `Transport.default_port`; the tests run a
private name server on a free port). Same arguments as store_peer.py."""
import json
import os
import runpy
import sys
from urllib.parse import urlparse

import kombu.transport.pyro

port = urlparse(json.loads(sys.argv[2])["url"]).port
if port:
    kombu.transport.pyro.Transport.default_port = port
sys.argv = [os.path.join(os.path.dirname(__file__), "store_peer.py")] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
