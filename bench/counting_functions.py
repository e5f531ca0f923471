"""The local stack's functions (functions/local_server.py) with Firestore use counted, for the
benchmarks: `GET /_bench/firestore` answers the counts of this process (bench/firestore_calls.py).

    python -m bench.counting_functions --port PORT
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from werkzeug.serving import make_server

from bench.firestore_calls import FirestoreCalls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    calls = FirestoreCalls()  # before any Firestore client exists

    import main as entry_points
    from functions.local_server import Dispatcher

    functions = Dispatcher(entry_points.HTTP_FUNCTIONS)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_bench/firestore":
            body = json.dumps(calls.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        return functions(environ, start_response)

    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"ready http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
